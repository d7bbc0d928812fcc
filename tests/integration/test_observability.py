#!/usr/bin/env python3
# Black-box tests of ragd's operational surface beyond /metrics: the /ready JSON per dependency
# (503 while the indexes lag storage, 200 again once they catch up, mirrored by the ragd_ready
# gauge) and the log.* configuration keys.
import os
import sqlite3
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ragd_harness import RagdServer, run_cli  # noqa: E402

DOC = {"id": "ready-doc", "title": "Brindlewick",
       "text": "The brindlewick ferry crosses the estuary twice a day, tide permitting."}


def ragd_ready_value(server):
    resp = server.request("GET", "/metrics")
    assert resp.status == 200, resp
    for line in resp.body.decode("utf-8").splitlines():
        if line.startswith("ragd_ready "):
            return float(line.split()[1])
    raise AssertionError("no ragd_ready sample in /metrics")


class ReadyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = RagdServer()
        cls.server.start()
        cls.server.ingest(**DOC)

    @classmethod
    def tearDownClass(cls):
        stderr = cls.server.stderr()
        code = cls.server.stop()
        if code != 0:
            raise AssertionError("ragd serve exited %r after SIGTERM, want 0\n%s" % (code, stderr))

    def assert_check(self, checks, name, status, required=True):
        self.assertIn(name, checks)
        self.assertEqual(checks[name]["status"], status, checks[name])
        self.assertIs(checks[name]["required"], required, checks[name])

    def test_ready_body_names_each_check(self):
        resp = self.server.wait_ready()
        self.assertEqual(resp.status, 200, resp)
        self.assertIn("application/json", resp.headers.get("content-type", ""))
        body = resp.body
        self.assertEqual(body["status"], "ready")
        checks = body["checks"]
        self.assert_check(checks, "storage", "ok")
        self.assert_check(checks, "indexes", "ok")
        self.assertNotIn("detail", checks["storage"])
        indexes = checks["indexes"]
        self.assertEqual(indexes["lag"], 0)
        self.assertEqual(indexes["applied_seq"], indexes["storage_seq"])
        self.assertEqual(checks["storage"]["seq"], indexes["storage_seq"])
        self.assertGreaterEqual(indexes["vectors"], 1)
        self.assertEqual(indexes["vectors"], indexes["bm25_chunks"])
        self.assertEqual(ragd_ready_value(self.server), 1)

    def test_not_ready_while_indexes_lag_storage_then_ready_again(self):
        self.assertEqual(self.server.wait_ready().status, 200)
        # Another writer appends to storage behind this replica's back, as a fleet replica sharing
        # the database would: a change for a document this replica has never seen.
        db = sqlite3.connect(os.path.join(self.server.data_dir, "ragd.sqlite"), timeout=10)
        try:
            with db:
                db.execute("INSERT INTO changes (document_id, kind, at, removed_chunk_ids) "
                           "VALUES ('ghost', 'delete', ?, '[]')", (int(time.time()),))
        finally:
            db.close()

        resp = self.server.request("GET", "/ready")
        self.assertEqual(resp.status, 503, resp)
        self.assertEqual(resp.body["status"], "not_ready")
        checks = resp.body["checks"]
        self.assert_check(checks, "storage", "ok")
        self.assert_check(checks, "indexes", "failing")
        self.assertEqual(checks["indexes"]["lag"], 1)
        self.assertIn("storage at", checks["indexes"]["detail"])
        self.assertEqual(ragd_ready_value(self.server), 0)
        # /health is liveness, not readiness: still 200.
        self.assertEqual(self.server.request("GET", "/health").status, 200)

        # The next write through this replica catches its indexes up with everything.
        self.server.ingest(id="ready-doc-2", text="Tide tables hang in the ferry office.")
        resp = self.server.request("GET", "/ready")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body["checks"]["indexes"]["lag"], 0)
        self.assertEqual(ragd_ready_value(self.server), 1)


class LogConfigTest(unittest.TestCase):
    def test_log_keys_are_printed_with_defaults(self):
        res = run_cli("serve", "--print-config")
        self.assertEqual(res.returncode, 0, res)
        self.assertIn('format = "json"', res.stdout)
        self.assertIn("access = true", res.stdout)
        self.assertIn('file = ""', res.stdout)

    def test_log_values_are_validated(self):
        for setting in ("log.format=xml", "log.access=maybe", "log.level=loud"):
            with self.subTest(setting=setting):
                res = run_cli("serve", "--print-config", "--set", setting)
                self.assertNotEqual(res.returncode, 0, res)
                self.assertIn(setting.split("=")[0], res.stderr, res)
        res = run_cli("serve", "--print-config", "--set", "log.level=off",
                      "--set", "log.format=text", "--set", "log.file=/tmp/ragd.log")
        self.assertEqual(res.returncode, 0, res)
        self.assertIn('level = "off"', res.stdout)
        self.assertIn('format = "text"', res.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
