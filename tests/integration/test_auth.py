#!/usr/bin/env python3
# Black-box tests of access control against the real binary: API keys made with `ragd keys
# create`, scopes, tenant isolation (queries, searches, reads, deletes, writes), per-key rate
# limits with their headers, keys kept out of logs, and the refusal to serve unauthenticated on a
# non-loopback address.
import http.client
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ragd_harness import (RagdServer, clean_env, error_message, ragd_bin,  # noqa: E402
                          run_cli)

# Each tenant's document carries a made-up word no other document contains.
ACME_WORD = "zephyrine"
GLOBEX_WORD = "quokkalith"
ACME_TEXT = ("The %s glacier survey measured how fast the ice retreated each summer, "
             "with stakes drilled into the glacier." % ACME_WORD)
GLOBEX_TEXT = ("The %s reef shelters parrotfish and sea turtles in warm shallow water; "
               "bleaching happens when the water gets too warm." % GLOBEX_WORD)


def create_key(*args):
    """Runs `ragd keys create ARGS`; returns (key, toml_block)."""
    result = run_cli("keys", "create", *args)
    if result.returncode != 0:
        raise AssertionError("ragd keys create failed: %r" % (result,))
    lines = result.stdout.splitlines()
    key = lines[0].strip()
    if not key.startswith("ragd_") or key in "\n".join(lines[1:]):
        raise AssertionError("unexpected keys create output: %r" % (result.stdout,))
    return key, "\n".join(lines[1:]) + "\n"


def bearer(key):
    return {"Authorization": "Bearer " + key}


def start_serve(args, timeout=30.0):
    """Starts `ragd serve ARGS` (its own --listen) and returns (proc, first_stdout_line) once it
    printed a line or exited; the caller stops it."""
    proc = subprocess.Popen([ragd_bin(), "serve"] + list(args), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env())
    deadline = time.monotonic() + timeout
    line = b""
    while b"\n" not in line and time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            line += chunk
        elif proc.poll() is not None:
            break
    return proc, line.decode("utf-8", "replace").split("\n")[0]


def http_status(port, method, path, headers=None):
    """Status of one request with a small JSON query body to 127.0.0.1:PORT."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request(method, path, body=b'{"query":"x"}',
                     headers={"Content-Type": "application/json", **(headers or {})})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def stop_serve(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    stderr = proc.stderr.read().decode("utf-8", "replace")
    proc.stdout.close()
    proc.stderr.close()
    return proc.returncode, stderr


class AuthTest(unittest.TestCase):
    """One server with five keys: two tenants, a query-only key, a rate-limited key, an admin."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="ragd-auth-")
        cls.acme, acme_toml = create_key("--name", "acme", "--scopes", "query,ingest",
                                         "--tenant", "acme")
        cls.globex, globex_toml = create_key("--name", "globex", "--scopes", "query,ingest",
                                             "--filter", "tenant=globex")
        cls.reader, reader_toml = create_key("--name", "acme-reader", "--tenant", "acme")
        # 3 requests at once, then one every 10 s: the 4th request in a row is refused.
        cls.limited, limited_toml = create_key("--name", "limited", "--tenant", "acme",
                                               "--requests-per-second", "0.1", "--burst", "3")
        cls.admin, admin_toml = create_key("--name", "ops", "--scopes", "admin")
        cls.keys = [cls.acme, cls.globex, cls.reader, cls.limited, cls.admin]
        cls.config = os.path.join(cls.tmp, "ragd.toml")
        with open(cls.config, "w") as f:
            f.write("[auth]\nprotect_metrics = true\n\n")
            for block in (acme_toml, globex_toml, reader_toml, limited_toml, admin_toml):
                f.write(block + "\n")
        cls.server = RagdServer(args=["--config", cls.config])
        cls.server.start()
        for key, doc_id, text in ((cls.acme, "acme-plan", ACME_TEXT),
                                  (cls.globex, "globex-plan", GLOBEX_TEXT)):
            resp = cls.server.post("/v1/documents", {"id": doc_id, "text": text},
                                   headers=bearer(key))
            if resp.status != 201:
                raise AssertionError("ingest %s -> %r" % (doc_id, resp))

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        if code != 0:
            raise AssertionError("ragd serve exited with %r" % (code,))

    # -- helpers ------------------------------------------------------------------------------

    def call(self, method, path, key=None, body=None, headers=None):
        hdrs = dict(headers or {})
        if key is not None:
            hdrs.update(bearer(key))
        return self.server.request(method, path, body=body, headers=hdrs)

    def assertStatus(self, resp, status):
        self.assertEqual(resp.status, status, resp)

    def search(self, key, query, **extra):
        body = dict(query=query, top_k=10, **extra)
        resp = self.call("POST", "/v1/search", key, body)
        self.assertStatus(resp, 200)
        return resp.body["results"]

    def assertNoGlobex(self, sources):
        for source in sources:
            self.assertNotEqual(source["document_id"], "globex-plan", source)
            self.assertNotIn(GLOBEX_WORD, source["text"], source)
            self.assertEqual(source["metadata"].get("tenant"), "acme", source)

    # -- authentication -----------------------------------------------------------------------

    def test_missing_and_unknown_keys_are_401(self):
        unknown = "ragd_" + "0" * 64
        for method, path, body in (("POST", "/v1/query", {"query": "glacier"}),
                                   ("POST", "/v1/search", {"query": "glacier"}),
                                   ("POST", "/v1/documents", {"text": "x"}),
                                   ("GET", "/v1/documents/acme-plan", None),
                                   ("DELETE", "/v1/documents/acme-plan", None),
                                   ("GET", "/v1/stats", None),
                                   ("GET", "/metrics", None)):
            for headers in ({}, bearer(unknown), {"X-API-Key": unknown},
                            {"Authorization": "Basic YWNtZTphY21l"}):
                with self.subTest(method=method, path=path, headers=headers):
                    resp = self.call(method, path, body=body, headers=headers)
                    self.assertStatus(resp, 401)
                    self.assertEqual(resp.body["error"]["type"], "unauthorized")
                    self.assertTrue(resp.headers.get("www-authenticate", "").startswith("Bearer"),
                                    resp.headers)
                    self.assertNotIn(unknown, error_message(resp.body))
        # The document is still there: the unauthenticated DELETE did nothing.
        self.assertStatus(self.call("GET", "/v1/documents/acme-plan", self.acme), 200)

    def test_probes_stay_open(self):
        self.assertStatus(self.call("GET", "/health"), 200)
        self.assertIn(self.call("GET", "/ready").status, (200, 503))

    def test_x_api_key_header_works(self):
        resp = self.call("POST", "/v1/search", body={"query": ACME_WORD},
                         headers={"X-API-Key": self.acme})
        self.assertStatus(resp, 200)

    # -- scopes -------------------------------------------------------------------------------

    def test_query_only_key_cannot_ingest_or_delete(self):
        resp = self.call("POST", "/v1/documents", self.reader, {"id": "r1", "text": "reader text"})
        self.assertStatus(resp, 403)
        self.assertEqual(resp.body["error"]["type"], "forbidden")
        self.assertIn("acme-reader", error_message(resp.body))
        self.assertNotIn(self.reader, error_message(resp.body))
        self.assertStatus(self.call("DELETE", "/v1/documents/acme-plan", self.reader), 403)
        # ...but it can read its tenant's data.
        self.assertStatus(self.call("GET", "/v1/documents/acme-plan", self.reader), 200)
        self.assertTrue(self.search(self.reader, ACME_WORD))

    def test_stats_and_metrics_need_admin(self):
        self.assertStatus(self.call("GET", "/v1/stats", self.acme), 403)
        self.assertStatus(self.call("GET", "/metrics", self.acme), 403)
        self.assertStatus(self.call("GET", "/v1/stats", self.admin), 200)
        resp = self.call("GET", "/metrics", self.admin)
        self.assertStatus(resp, 200)
        self.assertIn(b"ragd_", resp.body)
        # The admin key has no query scope: scopes are independent.
        self.assertStatus(self.call("POST", "/v1/search", self.admin, {"query": "x"}), 403)

    # -- tenants ------------------------------------------------------------------------------

    def test_each_tenant_finds_its_own_document(self):
        acme_hits = self.search(self.acme, ACME_WORD)
        self.assertEqual(acme_hits[0]["document_id"], "acme-plan")
        globex_hits = self.search(self.globex, GLOBEX_WORD)
        self.assertEqual(globex_hits[0]["document_id"], "globex-plan")
        self.assertTrue(all(h["metadata"]["tenant"] == "globex" for h in globex_hits))

    def test_search_and_query_never_return_another_tenants_chunks(self):
        for extra in ({}, {"filter": {"metadata": {"tenant": "globex"}}},
                      {"filter": {"metadata": {"tenant": "globex", "x": "y"}}},
                      {"mode": "bm25"}, {"mode": "vector"}):
            with self.subTest(extra=extra):
                self.assertNoGlobex(self.search(self.acme, GLOBEX_WORD + " reef parrotfish",
                                                **extra))
                resp = self.call("POST", "/v1/query", self.acme,
                                 dict(query="What shelters parrotfish in the %s reef?"
                                      % GLOBEX_WORD, **extra))
                self.assertStatus(resp, 200)
                self.assertNoGlobex(resp.body["sources"])
                self.assertNotIn(GLOBEX_WORD, resp.body["answer"])

    def test_streamed_query_never_returns_another_tenants_chunks(self):
        resp = self.call("POST", "/v1/query", self.acme,
                         {"query": GLOBEX_WORD + " reef", "stream": True,
                          "filter": {"metadata": {"tenant": "globex"}}})
        self.assertStatus(resp, 200)
        raw = resp.body if isinstance(resp.body, bytes) else str(resp.body).encode()
        self.assertIn(b"event: sources", raw)
        self.assertNotIn(GLOBEX_WORD.encode(), raw)
        self.assertNotIn(b"globex-plan", raw)

    def test_cannot_read_or_delete_another_tenants_document(self):
        for method in ("GET", "DELETE"):
            resp = self.call(method, "/v1/documents/globex-plan", self.acme)
            self.assertStatus(resp, 404)
            self.assertEqual(resp.body["error"]["type"], "not_found")
        resp = self.call("GET", "/v1/documents/globex-plan", self.globex)
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body["metadata"], {"tenant": "globex"})

    def test_cannot_overwrite_another_tenants_document(self):
        resp = self.call("POST", "/v1/documents", self.acme,
                         {"id": "globex-plan", "text": "acme was here"})
        self.assertStatus(resp, 409)
        hits = self.search(self.globex, GLOBEX_WORD)
        self.assertEqual(hits[0]["document_id"], "globex-plan")
        self.assertIn(GLOBEX_WORD, hits[0]["text"])

    def test_ingest_stamps_the_tenant(self):
        word = "trellisbloom"
        resp = self.call("POST", "/v1/documents", self.acme,
                         {"id": "acme-sneaky", "text": "The %s vineyard ripens late." % word,
                          "metadata": {"tenant": "globex", "lang": "en"}})
        self.assertStatus(resp, 201)
        doc = self.call("GET", "/v1/documents/acme-sneaky", self.acme)
        self.assertStatus(doc, 200)
        self.assertEqual(doc.body["metadata"], {"tenant": "acme", "lang": "en"})
        self.assertFalse([h for h in self.search(self.globex, word)
                          if h["document_id"] == "acme-sneaky"])
        self.assertEqual(self.search(self.acme, word)[0]["document_id"], "acme-sneaky")
        # Same content without an id from both tenants: two documents, no conflict.
        shared = {"text": "A shared handbook page about holidays."}
        first = self.call("POST", "/v1/documents", self.acme, shared)
        second = self.call("POST", "/v1/documents", self.globex, shared)
        self.assertStatus(first, 201)
        self.assertStatus(second, 201)
        self.assertNotEqual(first.body["documents"][0]["id"], second.body["documents"][0]["id"])
        # And a tenant can delete its own document.
        self.assertStatus(self.call("DELETE", "/v1/documents/acme-sneaky", self.acme), 200)

    # -- rate limits --------------------------------------------------------------------------

    def test_burst_then_429_with_headers(self):
        conn = self.server.connection()
        try:
            remaining = []
            for _ in range(3):
                resp = self.server.request("POST", "/v1/search", {"query": ACME_WORD},
                                           headers=bearer(self.limited), conn=conn)
                self.assertStatus(resp, 200)
                self.assertEqual(resp.headers.get("ratelimit-limit"), "3", resp.headers)
                remaining.append(int(resp.headers["ratelimit-remaining"]))
                self.assertIn("ratelimit-reset", resp.headers)
            self.assertEqual(remaining, [2, 1, 0])
            resp = self.server.request("POST", "/v1/search", {"query": ACME_WORD},
                                       headers=bearer(self.limited), conn=conn)
            self.assertStatus(resp, 429)
            self.assertEqual(resp.body["error"]["type"], "rate_limited")
            self.assertIn("limited", error_message(resp.body))
            self.assertGreaterEqual(int(resp.headers["retry-after"]), 1)
            self.assertLessEqual(int(resp.headers["retry-after"]), 10)
            self.assertEqual(resp.headers.get("ratelimit-limit"), "3")
            self.assertEqual(resp.headers.get("ratelimit-remaining"), "0")
            self.assertGreaterEqual(int(resp.headers["ratelimit-reset"]), 1)
            # Other keys are not affected by this key's limit.
            resp = self.server.request("POST", "/v1/search", {"query": ACME_WORD},
                                       headers=bearer(self.acme), conn=conn)
            self.assertStatus(resp, 200)
            self.assertNotIn("ratelimit-limit", resp.headers)
        finally:
            conn.close()

    # -- logs ---------------------------------------------------------------------------------

    def test_zz_keys_never_logged(self):
        # Named to run last: every other test has sent its keys by now.
        self.call("POST", "/v1/search", self.acme, {"query": "x"})
        deadline = time.monotonic() + 5
        while "/v1/search" not in self.server.stderr() and time.monotonic() < deadline:
            time.sleep(0.05)
        stderr = self.server.stderr()
        self.assertIn("/v1/search", stderr, "access log lines expected on stderr")
        for key in self.keys:
            self.assertNotIn(key, stderr)
            self.assertNotIn(key[len("ragd_"):], stderr)


class ExposureTest(unittest.TestCase):
    """Listening on a non-loopback address needs keys or an explicit opt-out."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ragd-auth-exp-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def data(self, name):
        return os.path.join(self.tmp, name)

    def test_all_interfaces_without_keys_refuses_to_start(self):
        result = run_cli("serve", "--data", self.data("a"), "--listen", "0.0.0.0:0", timeout=30)
        self.assertNotEqual(result.returncode, 0, result)
        self.assertIn("refusing to serve without authentication", result.stderr)
        self.assertIn("0.0.0.0:0", result.stderr)
        self.assertIn("allow_unauthenticated_remote", result.stderr)
        self.assertNotIn("listening on", result.stdout)

    def test_opt_out_allows_it(self):
        proc, line = start_serve(["--data", self.data("b"), "--listen", "0.0.0.0:0",
                                  "--set", "auth.allow_unauthenticated_remote=true"])
        try:
            self.assertTrue(line.startswith("listening on 0.0.0.0:"), line)
            # Serving without a key (also: a request before SIGTERM, so the server has finished
            # starting up when the signal arrives).
            self.assertEqual(http_status(int(line.rsplit(":", 1)[1]), "POST", "/v1/search"), 200)
        finally:
            code, stderr = stop_serve(proc)
        self.assertEqual(code, 0, stderr)

    def test_keys_make_any_address_fine(self):
        key, block = create_key("--name", "solo")
        config = self.data("ragd.toml")
        with open(config, "w") as f:
            f.write(block)
        proc, line = start_serve(["--data", self.data("c"), "--listen", "0.0.0.0:0",
                                  "--config", config])
        try:
            self.assertTrue(line.startswith("listening on 0.0.0.0:"), line)
            port = int(line.rsplit(":", 1)[1])
            self.assertEqual(http_status(port, "POST", "/v1/search"), 401)
            self.assertEqual(http_status(port, "POST", "/v1/search", bearer(key)), 200)
        finally:
            code, stderr = stop_serve(proc)
        self.assertEqual(code, 0, stderr)

    def test_invalid_key_table_is_a_config_error(self):
        config = self.data("bad.toml")
        with open(config, "w") as f:
            f.write('[[auth.keys]]\nname = "x"\nsha256 = "abc"\n')
        result = run_cli("serve", "--data", self.data("d"), "--config", config,
                         "--listen", "127.0.0.1:0", timeout=30)
        self.assertNotEqual(result.returncode, 0, result)
        self.assertIn("auth.keys[0].sha256: must be 64 hex digits", result.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
