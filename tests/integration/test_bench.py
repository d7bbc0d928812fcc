#!/usr/bin/env python3
# Black-box tests of `ragd bench` against a real `ragd serve`: the JSON and HTML reports of a
# closed-loop run on /health, POSTed queries from a file, errors counted by kind against a
# closed port, the sweep stopping under --min-success, and argument errors.
import json
import os
import re
import shutil
import socket
import sys
import tempfile
import unittest
import xml.dom.minidom

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ragd_harness import RagdServer, run_cli  # noqa: E402


def closed_port():
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class BenchTestBase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ragd-bench-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def bench(self, *args):
        return run_cli("bench", *args, timeout=60)

    def load_json(self, name):
        with open(self.path(name), encoding="utf-8") as f:
            return json.load(f)


class BenchAgainstServerTest(BenchTestBase):
    @classmethod
    def setUpClass(cls):
        cls.server = RagdServer().start()

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        assert code == 0, "ragd serve exited with %r" % (code,)

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.server.port, path)

    def test_health_closed_loop_reports(self):
        result = self.bench("--url", self.url("/health"), "--users", 20, "--duration", "2s",
                            "--json", self.path("out.json"), "--html", self.path("out.html"))
        self.assertEqual(result.returncode, 0, result)
        report = self.load_json("out.json")
        self.assertEqual(report["method"], "GET")
        self.assertEqual(report["mode"], "closed")
        self.assertEqual(len(report["levels"]), 1)
        level = report["levels"][0]
        self.assertEqual(level["users"], 20)
        self.assertGreater(level["requests"], 0)
        self.assertEqual(level["successes"], level["requests"])
        self.assertEqual(level["success_pct"], 100.0)
        self.assertEqual(level["errors"], {})
        self.assertAlmostEqual(level["measured_s"], 2.0, places=6)
        self.assertAlmostEqual(level["rps"], level["requests"] / 2.0, places=6)
        latency = level["latency_ms"]
        self.assertEqual(latency["count"], level["successes"])
        self.assertGreater(latency["p50"], 0)
        self.assertLessEqual(latency["min"], latency["p50"])
        self.assertLessEqual(latency["p50"], latency["p90"])
        self.assertLessEqual(latency["p90"], latency["p99"])
        self.assertLessEqual(latency["p99"], latency["max"])
        self.assertLess(latency["max"], 30000.0)
        # The table row for the level, with its success percentage.
        rows = [line.split() for line in result.stdout.splitlines()]
        self.assertIn(["20", str(level["requests"]), "100.00"], [row[:3] for row in rows])
        with open(self.path("out.html"), encoding="utf-8") as f:
            html = f.read()
        self.assertIn("<svg", html)
        self.assertIn("Throughput", html)
        self.assertIn(str(level["requests"]), html)
        # Both charts are well-formed SVG (browsers render nothing of a broken one).
        svgs = re.findall(r"<svg.*?</svg>", html, re.S)
        self.assertEqual(len(svgs), 2)
        for svg in svgs:
            xml.dom.minidom.parseString(svg)
        self.assertNotIn("<script", html)
        self.assertNotIn("<link", html)

    def test_queries_from_a_file_are_posted(self):
        queries = self.path("queries.txt")
        with open(queries, "w", encoding="utf-8") as f:
            f.write("How do I ingest a folder?\nWhat does /ready report?\n")
        result = self.bench("--url", self.url("/v1/query"), "--users", 4, "--duration", "1s",
                            "--queries", queries, "--repeat-fraction", "0.5",
                            "--header", "X-Request-Id: bench-test", "--json",
                            self.path("q.json"))
        self.assertEqual(result.returncode, 0, result)
        report = self.load_json("q.json")
        self.assertEqual(report["method"], "POST")
        level = report["levels"][0]
        self.assertGreater(level["requests"], 0)
        self.assertEqual(level["success_pct"], 100.0, level["errors"])
        self.assertGreater(level["body_bytes"], 0)

    def test_open_loop_follows_the_rate(self):
        result = self.bench("--url", self.url("/health"), "--rate", "200", "--users", 16,
                            "--duration", "1s", "--ramp-up", "0s", "--json",
                            self.path("open.json"))
        self.assertEqual(result.returncode, 0, result)
        report = self.load_json("open.json")
        self.assertEqual(report["mode"], "open")
        level = report["levels"][0]
        self.assertEqual(level["rate_per_s"], 200)
        # 200 arrivals/s for 1 s: the schedule, not the server, sets the count.
        self.assertGreaterEqual(level["requests"], 199)
        self.assertLessEqual(level["requests"], 201)
        self.assertEqual(level["success_pct"], 100.0)


class BenchWithoutServerTest(BenchTestBase):
    def test_refused_connections_are_counted(self):
        port = closed_port()
        result = self.bench("--url", "http://127.0.0.1:%d/health" % port, "--users", 5,
                            "--duration", "1s", "--json", self.path("refused.json"))
        self.assertEqual(result.returncode, 2, result)
        level = self.load_json("refused.json")["levels"][0]
        self.assertGreater(level["requests"], 0)
        self.assertEqual(level["successes"], 0)
        self.assertEqual(level["success_pct"], 0.0)
        self.assertEqual(level["errors"], {"refused": level["requests"]})
        self.assertIn("refused:%d" % level["requests"], result.stdout)

    def test_sweep_stops_below_min_success(self):
        port = closed_port()
        result = self.bench("--url", "http://127.0.0.1:%d/health" % port, "--sweep", "2,4,8",
                            "--duration", "0.5s", "--min-success", "95", "--json",
                            self.path("sweep.json"))
        self.assertEqual(result.returncode, 2, result)
        self.assertEqual(len(self.load_json("sweep.json")["levels"]), 1)
        self.assertIn("stopping", result.stdout)

    def test_bad_arguments_are_all_reported(self):
        result = self.bench("--url", "https://example.com/", "--duration", "soon",
                            "--repeat-fraction", "2")
        self.assertEqual(result.returncode, 1, result)
        for flag in ("--url", "--duration", "--repeat-fraction"):
            self.assertIn(flag, result.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
