#!/usr/bin/env python3
# Black-box tests of GET /metrics on the real binary: counters move by exactly the requests made,
# under route patterns (never raw paths), stage histograms follow queries, index and process
# gauges are plausible, and promtool accepts the exposition format.
import os
import re
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ragd_harness import RagdServer  # noqa: E402

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
STAGES = ("embed", "vector", "bm25", "fuse", "generate")

DOC = {"id": "metrics-doc", "title": "Quillowmere",
       "text": "The quillowmere lighthouse keeper logs every passing ship in a leather ledger. "
               "Storms on the quillowmere coast sink a ship every few winters."}


def parse(text):
    """{(name, frozenset(labels)): value} for every sample line of an exposition."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        brace = series.find("{")
        if brace < 0:
            name, labels = series, frozenset()
        else:
            name = series[:brace]
            labels = frozenset(LABEL.findall(series[brace:]))
        samples[(name, labels)] = float(value)
    return samples


def value(samples, name, **labels):
    """The sample's value, 0 when the series does not exist yet (counters start at 0)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


class MetricsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = RagdServer()
        cls.server.start()
        cls.server.ingest(**DOC)
        ready = cls.server.wait_ready()
        assert ready.status == 200, ready

    @classmethod
    def tearDownClass(cls):
        stderr = cls.server.stderr()
        code = cls.server.stop()
        if code != 0:
            raise AssertionError("ragd serve exited %r after SIGTERM, want 0\n%s" % (code, stderr))

    def scrape_once(self):
        resp = self.server.request("GET", "/metrics")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.headers.get("content-type"), CONTENT_TYPE)
        self.assertIsInstance(resp.body, bytes)
        text = resp.body.decode("utf-8")
        return text, parse(text)

    def scrape(self):
        """A scrape that counts every request this client has finished.

        ragd counts a request once its response has been written, so the client can read the
        response before the server thread that wrote it has counted it (the ASan build made
        that window visible). The same call that counts a request also lowers
        ragd_inflight_requests, so once a scrape shows only itself in flight, every earlier
        request is counted, and the next scrape includes them."""
        deadline = time.monotonic() + 10
        while True:
            _, samples = self.scrape_once()
            if value(samples, "ragd_inflight_requests") == 1:
                return self.scrape_once()
            self.assertLess(time.monotonic(), deadline,
                            "requests still in flight after 10 s: %r" %
                            value(samples, "ragd_inflight_requests"))
            time.sleep(0.01)

    def test_queries_move_counters_and_histograms_by_exactly_n(self):
        _, before = self.scrape()
        n = 7
        for query_idx in range(n):
            # Distinct questions: a repeated one would be a cache hit, which skips the stages.
            resp = self.server.post("/v1/query",
                                    {"query": "who logs the ships? (%d)" % query_idx})
            self.assertEqual(resp.status, 200, resp)
        _, after = self.scrape()

        def delta(name, **labels):
            return value(after, name, **labels) - value(before, name, **labels)

        self.assertEqual(delta("ragd_http_requests_total", route="/v1/query", method="POST",
                               code="200"), n)
        self.assertEqual(delta("ragd_http_request_duration_seconds_count", route="/v1/query"), n)
        self.assertEqual(delta("ragd_http_request_duration_seconds_bucket", route="/v1/query",
                               le="+Inf"), n)
        self.assertGreater(delta("ragd_http_request_duration_seconds_sum", route="/v1/query"), 0)
        for stage in STAGES:
            self.assertEqual(delta("ragd_stage_duration_seconds_count", stage=stage), n, stage)

    def test_repeated_query_is_a_cache_hit_that_skips_retrieval(self):
        question = {"query": "what does the quillowmere keeper log?"}
        first = self.server.post("/v1/query", question)
        self.assertEqual(first.status, 200, first)
        self.assertFalse(first.body["cached"])
        _, before = self.scrape()
        second = self.server.post("/v1/query", question)
        self.assertEqual(second.status, 200, second)
        self.assertTrue(second.body["cached"])
        self.assertEqual(second.body["cache"], "l1")
        self.assertEqual(second.body["answer"], first.body["answer"])
        _, after = self.scrape()

        def delta(name, **labels):
            return value(after, name, **labels) - value(before, name, **labels)

        self.assertEqual(delta("ragd_cache_requests_total", tier="l1", result="hit"), 1)
        self.assertEqual(delta("ragd_cache_requests_total", tier="l1", result="miss"), 0)
        self.assertEqual(delta("ragd_stage_duration_seconds_count", stage="cache"), 1)
        self.assertEqual(delta("ragd_stage_duration_seconds_count", stage="embed"), 0)

    def test_search_observes_retrieval_stages_but_not_generate(self):
        _, before = self.scrape()
        resp = self.server.post("/v1/search", {"query": "quillowmere storms", "mode": "bm25"})
        self.assertEqual(resp.status, 200, resp)
        _, after = self.scrape()

        def delta(stage):
            return (value(after, "ragd_stage_duration_seconds_count", stage=stage) -
                    value(before, "ragd_stage_duration_seconds_count", stage=stage))

        self.assertEqual(delta("bm25"), 1)
        self.assertEqual(delta("fuse"), 1)
        self.assertEqual(delta("embed"), 0)
        self.assertEqual(delta("vector"), 0)
        self.assertEqual(delta("generate"), 0)

    def test_errors_are_counted_with_their_codes_under_route_patterns(self):
        _, before = self.scrape()
        self.assertEqual(self.server.post("/v1/query", {"query": ""}).status, 400)
        self.assertEqual(self.server.request("GET", "/no/such/route").status, 404)
        self.assertEqual(self.server.request("GET", "/v1/documents/not-there").status, 404)
        self.assertEqual(self.server.request("PUT", "/v1/query").status, 405)
        text, after = self.scrape()

        def delta(**labels):
            return (value(after, "ragd_http_requests_total", **labels) -
                    value(before, "ragd_http_requests_total", **labels))

        self.assertEqual(delta(route="/v1/query", method="POST", code="400"), 1)
        self.assertEqual(delta(route="unmatched", method="GET", code="404"), 1)
        self.assertEqual(delta(route="/v1/documents/{id}", method="GET", code="404"), 1)
        self.assertEqual(delta(route="unmatched", method="PUT", code="405"), 1)
        self.assertNotIn("not-there", text)
        self.assertNotIn("/no/such/route", text)

    def test_index_gauges_follow_storage(self):
        _, samples = self.scrape()
        self.assertEqual(value(samples, "ragd_index_documents"), 1)
        chunks = value(samples, "ragd_index_chunks")
        self.assertGreaterEqual(chunks, 1)
        self.assertEqual(value(samples, "ragd_index_vectors"), chunks)
        self.assertEqual(value(samples, "ragd_index_change_seq_lag"), 0)

    def test_repeated_passages_come_from_memory(self):
        query = {"query": "quillowmere lighthouse ledger", "top_k": 3}
        first = self.server.post("/v1/search", query)
        self.assertEqual(first.status, 200, first)
        results = len(first.body["results"])
        self.assertGreaterEqual(results, 1)
        _, before = self.scrape()
        self.assertGreaterEqual(value(before, "ragd_passage_cache_entries"), results)
        self.assertGreater(value(before, "ragd_passage_cache_bytes"), 0)
        again = self.server.post("/v1/search", query)
        self.assertEqual(again.body["results"], first.body["results"])
        _, after = self.scrape()

        def delta(result):
            return (value(after, "ragd_passage_cache_requests_total", result=result) -
                    value(before, "ragd_passage_cache_requests_total", result=result))

        self.assertEqual(delta("hit"), results)
        self.assertEqual(delta("miss"), 0)

    def test_gauges_and_build_info(self):
        _, samples = self.scrape()
        # The scrape itself is in flight while it is rendered, on its own open connection.
        self.assertEqual(value(samples, "ragd_inflight_requests"), 1)
        self.assertGreaterEqual(value(samples, "ragd_open_connections"), 1)
        self.assertEqual(value(samples, "ragd_shed_total", reason="queue_full"), 0)
        build = [(labels, v) for (name, labels), v in samples.items() if name == "ragd_build_info"]
        self.assertEqual(len(build), 1, build)
        labels = dict(build[0][0])
        self.assertEqual(build[0][1], 1)
        self.assertRegex(labels["version"], r"^\d+\.\d+\.\d+$")
        self.assertRegex(labels["commit"], r"^([0-9a-f]{4,40}|unknown)$")

    def test_process_metrics_are_plausible(self):
        _, samples = self.scrape()
        now = time.time()
        rss = value(samples, "process_resident_memory_bytes")
        self.assertGreater(rss, 1 << 20)
        self.assertLess(rss, 8 << 30)
        fds = value(samples, "process_open_fds")
        self.assertGreaterEqual(fds, 4)  # std streams plus the listening socket at least
        self.assertLessEqual(fds, value(samples, "process_max_fds"))
        start = value(samples, "process_start_time_seconds")
        self.assertLess(abs(start - now), 600, "start time %r vs now %r" % (start, now))
        self.assertIn(("process_cpu_seconds_total", frozenset()), samples)
        self.assertGreaterEqual(value(samples, "process_cpu_seconds_total"), 0)

    def test_promtool_accepts_the_exposition(self):
        # Fails rather than skips without promtool: scripts/install-deps.sh --test installs it.
        promtool = shutil.which("promtool")
        self.assertIsNotNone(promtool, "promtool not found (Debian package prometheus)")
        self.server.post("/v1/query", {"query": "quillowmere"})
        text, _ = self.scrape()
        checked = subprocess.run([promtool, "check", "metrics"], input=text.encode("utf-8"),
                                 capture_output=True, timeout=60)
        self.assertEqual(checked.returncode, 0,
                         "promtool check metrics:\n%s%s" % (checked.stdout.decode(),
                                                             checked.stderr.decode()))


class MetricsOffTest(unittest.TestCase):
    """server.metrics = false: what bench/README.md compares against to price metrics."""

    def test_metrics_off_unroutes_the_scrape_and_still_serves(self):
        server = RagdServer(env={"RAGD_SERVER_METRICS": "false"})
        server.start()
        try:
            server.ingest(**DOC)
            self.assertEqual(server.wait_ready().status, 200)
            resp = server.post("/v1/query", {"query": "who logs the ships?"})
            self.assertEqual(resp.status, 200, resp)
            self.assertEqual(server.request("GET", "/metrics").status, 404)
        finally:
            self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
