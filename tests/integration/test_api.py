#!/usr/bin/env python3
# Black-box tests of ragd's HTTP API against the real binary: ingest, query, search, filters,
# document lifecycle, and every client-error status with real (sometimes hand-written) HTTP.
import json
import os
import re
import socket
import sys
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ragd_harness import RagdServer, RawReader, error_message, read_raw_response  # noqa: E402

TIMING_KEYS = {"embed", "vector", "bm25", "fuse", "generate", "total"}
SOURCE_KEYS = {"n", "chunk_id", "document_id", "source", "title", "heading_path", "text", "score",
               "ranks", "metadata"}

# Each document carries one made-up word no other document contains, so "which doc ranks first"
# is unambiguous for BM25 and for the lexical embedder alike.
ALPHA_MD = """# Glacier Survey

## Field Methods

Surveyors measured the zephyrine glacier with stakes drilled into the ice. Each
summer the stakes showed how much the glacier had thinned.

## Results

The glacier retreated four hundred metres over the decade of the survey.
"""

BETA_HTML = """<!DOCTYPE html><html><head><title>Beta Reef Page</title></head><body>
<h1>Coral Reefs</h1>
<p>The quokkalith reef shelters parrotfish and sea turtles in warm shallow water.</p>
<p>Bleaching happens when the water gets too warm for the coral.</p>
</body></html>"""

GAMMA_TXT = """Marmotide alpine marmots whistle to warn the colony when an eagle circles
above the meadow. They hibernate for more than half of the year in deep burrows."""

DELTA_TXT = """Trellisbloom vineyards on the southern slopes ripen their grapes late in
autumn, and the harvest is picked by hand before the first frost."""


def source_ids(sources):
    return [s["document_id"] for s in sources]


class ApiTestBase(unittest.TestCase):
    """One server per test class (start-up is the expensive part); tests use disjoint docs."""

    server_args = ()

    @classmethod
    def setUpClass(cls):
        cls.server = RagdServer(args=cls.server_args)
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        stderr = cls.server.stderr()
        code = cls.server.stop()
        if code != 0:
            raise AssertionError("ragd serve exited %r after SIGTERM, want 0\n%s" % (code, stderr))

    def assertStatus(self, resp, status, msg=None):
        self.assertEqual(resp.status, status, msg or "unexpected status: %r" % (resp,))

    def assertError(self, resp, status, field=None):
        """Status is `status`, the body is the documented error object, message names `field`."""
        self.assertStatus(resp, status)
        self.assertIsInstance(resp.body, dict, "error body is not JSON: %r" % (resp,))
        self.assertIn("error", resp.body)
        self.assertIsInstance(resp.body["error"].get("type"), str)
        self.assertIsInstance(resp.body["error"].get("message"), str)
        if field is not None:
            self.assertIn(field, error_message(resp.body))


class QueryAndSearchTest(ApiTestBase):
    """Ingest a small mixed corpus once, then check query/search/filter behaviour."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        single = cls.server.post("/v1/documents", {
            "id": "alpha", "title": "Glacier Survey", "text": ALPHA_MD, "format": "markdown",
            "source": "kb/alpha.md", "metadata": {"team": "red", "lang": "en"}})
        assert single.status == 201, single
        cls.single = single.body
        batch = cls.server.post("/v1/documents", {"documents": [
            {"id": "beta", "text": BETA_HTML, "format": "html", "source": "kb/beta.html",
             "metadata": {"team": "blue"}},
            {"id": "gamma", "text": GAMMA_TXT, "source": "other/gamma.txt",
             "metadata": {"team": "red"}},
            {"id": "delta", "text": DELTA_TXT, "format": "text", "source": "other/delta.txt"},
        ]})
        assert batch.status == 201, batch
        cls.batch = batch.body

    def query(self, path, **body):
        resp = self.server.post(path, body)
        self.assertStatus(resp, 200)
        return resp.body

    def test_ingest_responses(self):
        self.assertEqual(len(self.single["documents"]), 1)
        doc = self.single["documents"][0]
        self.assertEqual(doc["id"], "alpha")
        self.assertEqual(doc["status"], "created")
        self.assertGreaterEqual(doc["chunks"], 1)
        self.assertEqual([d["id"] for d in self.batch["documents"]], ["beta", "gamma", "delta"])
        for d in self.batch["documents"]:
            self.assertEqual(d["status"], "created")
            self.assertGreaterEqual(d["chunks"], 1)

    def test_query_answer_cites_sources(self):
        body = self.query("/v1/query", query="How did surveyors measure the zephyrine glacier?")
        self.assertEqual(body["generator"], "extractive")
        self.assertIs(body["cached"], False)
        self.assertIsInstance(body["answer"], str)
        self.assertTrue(body["answer"].strip(), "empty answer")
        sources = body["sources"]
        self.assertTrue(sources)
        self.assertLessEqual(len(sources), 5)  # default top_k
        self.assertEqual([s["n"] for s in sources], list(range(1, len(sources) + 1)))
        markers = [int(m) for m in re.findall(r"\[(\d+)\]", body["answer"])]
        self.assertTrue(markers, "answer has no [n] markers: %r" % body["answer"])
        for n in markers:
            self.assertTrue(1 <= n <= len(sources), "marker [%d] points past %d sources"
                            % (n, len(sources)))
        self.assertEqual(sources[0]["document_id"], "alpha")
        self.assertIn("zephyrine", body["answer"].lower())
        cited = sources[markers[0] - 1]
        self.assertEqual(cited["document_id"], "alpha")

    def test_query_timings_and_source_shape(self):
        body = self.query("/v1/query", query="coral reef bleaching", top_k=3)
        # An answer also reports the LLM's first-token time (0 for the extractive answerer).
        self.assertEqual(set(body["timings_ms"]), TIMING_KEYS | {"llm_first_token"})
        for key, value in body["timings_ms"].items():
            self.assertIsInstance(value, (int, float), key)
            self.assertGreaterEqual(value, 0, key)
        self.assertGreaterEqual(body["timings_ms"]["total"], body["timings_ms"]["fuse"])
        self.assertLessEqual(len(body["sources"]), 3)
        for s in body["sources"]:
            self.assertTrue(SOURCE_KEYS <= set(s), "missing keys in %r" % s)
            self.assertEqual(set(s["ranks"]), {"vector", "bm25"})
            for rank in s["ranks"].values():
                self.assertTrue(rank is None or (isinstance(rank, int) and rank >= 1), rank)
            self.assertTrue(s["ranks"]["vector"] is not None or s["ranks"]["bm25"] is not None)
            self.assertIsInstance(s["heading_path"], list)
            self.assertIsInstance(s["score"], (int, float))
        top = body["sources"][0]
        self.assertEqual(top["document_id"], "beta")
        self.assertEqual(top["ranks"]["bm25"], 1)

    def test_search_unique_word_ranks_first(self):
        for word, doc_id in [("zephyrine", "alpha"), ("quokkalith", "beta"),
                             ("marmotide", "gamma"), ("trellisbloom", "delta")]:
            body = self.query("/v1/search", query=word)
            self.assertEqual(set(body), {"results", "timings_ms"})
            self.assertTrue(body["results"], word)
            self.assertEqual(body["results"][0]["document_id"], doc_id,
                             "%s: %r" % (word, source_ids(body["results"])))
            self.assertIn(word, body["results"][0]["text"].lower())

    def test_search_scores_descend_and_top_k_respected(self):
        body = self.query("/v1/search", query="water glacier coral marmots grapes", top_k=2)
        self.assertEqual(len(body["results"]), 2)
        scores = [r["score"] for r in body["results"]]
        self.assertEqual(scores, sorted(scores, reverse=True))
        body = self.query("/v1/search", query="water glacier coral marmots grapes", top_k=100)
        self.assertEqual(len({r["chunk_id"] for r in body["results"]}), len(body["results"]))
        self.assertEqual(set(source_ids(body["results"])), {"alpha", "beta", "gamma", "delta"})

    def test_search_modes(self):
        for mode in ("hybrid", "vector", "bm25"):
            body = self.query("/v1/search", query="quokkalith reef", mode=mode)
            self.assertEqual(body["results"][0]["document_id"], "beta", mode)
            ranks = body["results"][0]["ranks"]
            if mode == "bm25":
                self.assertIsNone(ranks["vector"])
                self.assertEqual(ranks["bm25"], 1)
            if mode == "vector":
                self.assertIsNone(ranks["bm25"])
                self.assertEqual(ranks["vector"], 1)

    def test_markdown_heading_path(self):
        body = self.query("/v1/search", query="zephyrine stakes drilled into the ice", top_k=1)
        top = body["results"][0]
        self.assertEqual(top["document_id"], "alpha")
        self.assertEqual(top["title"], "Glacier Survey")
        self.assertIn("Field Methods", top["heading_path"])
        self.assertNotIn("##", top["text"])

    def test_html_parsed(self):
        body = self.query("/v1/search", query="quokkalith parrotfish", top_k=1)
        top = body["results"][0]
        self.assertEqual(top["document_id"], "beta")
        self.assertEqual(top["title"], "Beta Reef Page")  # from <title>, none was given
        self.assertNotIn("<p>", top["text"])
        self.assertEqual(top["source"], "kb/beta.html")

    def test_filter_by_metadata(self):
        body = self.query("/v1/search", query="water glacier coral marmots grapes", top_k=20,
                          filter={"metadata": {"team": "red"}})
        ids = set(source_ids(body["results"]))
        self.assertEqual(ids, {"alpha", "gamma"})
        for r in body["results"]:
            self.assertEqual(r["metadata"].get("team"), "red")
        # The best match for this word is blue: a red-only filter must not return it.
        body = self.query("/v1/query", query="quokkalith reef",
                          filter={"metadata": {"team": "red"}})
        self.assertNotIn("beta", source_ids(body["sources"]))
        # Two terms are ANDed.
        body = self.query("/v1/search", query="glacier marmots", top_k=20,
                          filter={"metadata": {"team": "red", "lang": "en"}})
        self.assertEqual(set(source_ids(body["results"])), {"alpha"})
        # No document matches: an empty list, not an error.
        body = self.query("/v1/search", query="glacier", filter={"metadata": {"team": "green"}})
        self.assertEqual(body["results"], [])

    def test_filter_by_source_prefix(self):
        body = self.query("/v1/search", query="water glacier coral marmots grapes", top_k=20,
                          filter={"source_prefix": "kb/"})
        self.assertEqual(set(source_ids(body["results"])), {"alpha", "beta"})
        for r in body["results"]:
            self.assertTrue(r["source"].startswith("kb/"), r["source"])
        body = self.query("/v1/search", query="marmotide", top_k=20,
                          filter={"source_prefix": "other/", "metadata": {"team": "red"}})
        self.assertEqual(set(source_ids(body["results"])), {"gamma"})

    def test_get_document(self):
        resp = self.server.request("GET", "/v1/documents/alpha")
        self.assertStatus(resp, 200)
        doc = resp.body
        self.assertEqual(doc["id"], "alpha")
        self.assertEqual(doc["title"], "Glacier Survey")
        self.assertEqual(doc["source"], "kb/alpha.md")
        self.assertEqual(doc["metadata"], {"team": "red", "lang": "en"})
        self.assertEqual(doc["chunks"], self.single["documents"][0]["chunks"])
        self.assertRegex(doc["content_hash"], r"^[0-9a-f]{64}$")
        for key in ("collection", "created_at", "updated_at"):
            self.assertIn(key, doc)
        self.assertLessEqual(doc["created_at"], doc["updated_at"])

    def test_request_id_round_trip(self):
        resp = self.server.request("POST", "/v1/query", {"query": "raft leader"},
                                   headers={"X-Request-Id": "client-req-42"})
        self.assertStatus(resp, 200)
        self.assertEqual(resp.headers.get("x-request-id"), "client-req-42")
        resp = self.server.request("POST", "/v1/query", {"query": ""})
        self.assertStatus(resp, 400)
        generated = resp.headers.get("x-request-id", "")
        self.assertRegex(generated, r"^[0-9a-f]{16}$")
        resp = self.server.request("GET", "/health", headers={"X-Request-Id": "bad id"})
        self.assertNotEqual(resp.headers.get("x-request-id"), "bad id")

    def test_health_ready_stats(self):
        resp = self.server.request("GET", "/health")
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, {"status": "ok"})
        self.assertIn("application/json", resp.headers.get("content-type", ""))
        resp = self.server.wait_ready()
        self.assertStatus(resp, 200)
        resp = self.server.request("GET", "/v1/stats")
        self.assertStatus(resp, 200)
        self.assertGreaterEqual(resp.body["documents"], 4)
        idx = resp.body["indexes"]
        self.assertEqual(idx["vectors"], resp.body["chunks"])
        self.assertEqual(idx["bm25_chunks"], resp.body["chunks"])


class DocumentLifecycleTest(ApiTestBase):
    """Upsert semantics, deletes and ids that need percent-encoding."""

    def search_ids(self, text, top_k=20):
        resp = self.server.post("/v1/search", {"query": text, "top_k": top_k})
        self.assertStatus(resp, 200)
        return resp.body["results"]

    def test_unchanged_then_replaced(self):
        doc = {"id": "life-1", "text": "Pelicanthus birds dive for sardines off the pier.",
               "metadata": {"v": "1"}}
        self.assertEqual(self.server.ingest(**doc)["status"], "created")
        first = self.server.request("GET", "/v1/documents/life-1").body
        # Loaded once, so the passage cache holds the old text when the document is replaced.
        self.assertEqual(self.search_ids("pelicanthus sardines")[0]["document_id"], "life-1")
        self.assertEqual(self.server.ingest(**doc)["status"], "unchanged")
        changed = dict(doc, text="Cormorantix birds dry their wings on the harbour wall.",
                       metadata={"v": "2"})
        self.assertEqual(self.server.ingest(**changed)["status"], "replaced")
        after = self.server.request("GET", "/v1/documents/life-1").body
        self.assertEqual(after["metadata"], {"v": "2"})
        self.assertNotEqual(after["content_hash"], first["content_hash"])
        self.assertEqual(after["created_at"], first["created_at"])
        self.assertGreaterEqual(after["updated_at"], first["updated_at"])
        # The old text is gone from both retrievers; the new one is found.
        for r in self.search_ids("pelicanthus sardines"):
            self.assertNotIn("pelicanthus", r["text"].lower(), r)
        for mode in ("bm25", "vector"):
            resp = self.server.post("/v1/search", {"query": "pelicanthus", "mode": mode,
                                                   "top_k": 50})
            for r in resp.body["results"]:
                self.assertNotIn("pelicanthus", r["text"].lower(), (mode, r))
        top = self.search_ids("cormorantix")[0]
        self.assertEqual(top["document_id"], "life-1")
        self.assertEqual(top["metadata"], {"v": "2"})

    def test_delete(self):
        self.server.ingest(id="life-2", text="Gondwanite rocks hold fossils of ancient ferns.")
        self.assertEqual(self.search_ids("gondwanite")[0]["document_id"], "life-2")
        resp = self.server.request("DELETE", "/v1/documents/life-2")
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, {"deleted": True, "id": "life-2"})
        self.assertError(self.server.request("GET", "/v1/documents/life-2"), 404)
        self.assertNotIn("life-2", source_ids(self.search_ids("gondwanite")))
        resp = self.server.post("/v1/search", {"query": "gondwanite", "mode": "bm25"})
        self.assertNotIn("life-2", source_ids(resp.body["results"]))
        self.assertError(self.server.request("DELETE", "/v1/documents/life-2"), 404)
        # Re-creating after a delete is "created" again.
        self.assertEqual(self.server.ingest(id="life-2", text="Gondwanite again.")["status"],
                         "created")

    def test_ids_needing_percent_encoding(self):
        for doc_id in ("folder/sub doc.md", "a b%c?d#e", "ünï/cödé"):
            with self.subTest(id=doc_id):
                self.assertEqual(self.server.ingest(id=doc_id, text="Encoded id " + doc_id)
                                 ["status"], "created")
                path = "/v1/documents/" + urllib.parse.quote(doc_id, safe="")
                resp = self.server.request("GET", path)
                self.assertStatus(resp, 200)
                self.assertEqual(resp.body["id"], doc_id)
                resp = self.server.request("DELETE", path)
                self.assertStatus(resp, 200)
                self.assertEqual(resp.body["id"], doc_id)
                self.assertError(self.server.request("GET", path), 404)
        # An unencoded '/' is another path, so no route matches.
        self.server.ingest(id="x/y", text="slash id")
        self.assertError(self.server.request("GET", "/v1/documents/x/y"), 404)
        self.assertStatus(self.server.request("GET", "/v1/documents/x%2Fy"), 200)

    def test_generated_id_without_id(self):
        result = self.server.ingest(text="No id given: the server derives one.",
                                    source="generated/source.txt")
        self.assertTrue(result["id"])
        resp = self.server.request("GET", "/v1/documents/" + urllib.parse.quote(result["id"],
                                                                             safe=""))
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body["source"], "generated/source.txt")


    def test_batch_indexed_as_one_and_kept_when_a_document_fails(self):
        resp = self.server.post("/v1/documents", {"documents": [
            {"id": "batch-1", "text": "Quokkalite crystals grow in salt caves."},
            {"id": "batch-2", "text": "Tardigradium moss survives the frost."}]})
        self.assertStatus(resp, 201)
        for word, doc_id in (("quokkalite", "batch-1"), ("tardigradium", "batch-2")):
            for mode in ("bm25", "vector"):
                found = self.server.post("/v1/search", {"query": word, "mode": mode}).body
                self.assertEqual(found["results"][0]["document_id"], doc_id, (word, mode))
        # The second document fails: the batch stops, and what it lists as stored is already
        # searchable when the error comes back (the indexes caught up before the answer).
        resp = self.server.post("/v1/documents", {"documents": [
            {"id": "batch-3", "text": "Xylophorite shards ring like bells."},
            {"id": "batch-4", "text": "binary \u0000 content"},
            {"id": "batch-5", "text": "Never reached."}]})
        self.assertError(resp, 400)
        self.assertEqual([d["id"] for d in resp.body["documents"]], ["batch-3"])
        for mode in ("bm25", "vector"):
            found = self.server.post("/v1/search", {"query": "xylophorite", "mode": mode}).body
            self.assertEqual(found["results"][0]["document_id"], "batch-3", mode)
        self.assertError(self.server.request("GET", "/v1/documents/batch-5"), 404)


class ErrorStatusTest(ApiTestBase):
    """Every client-error status of the spec, then proof the server is still healthy."""

    def post_raw_json(self, path, data, content_type="application/json"):
        return self.server.request("POST", path, body=data, headers={"Content-Type": content_type})

    def test_400_malformed_json(self):
        for data in (b"{", b"{\"query\": }", b"not json", b"{\"query\": \"x\"} trailing"):
            with self.subTest(body=data):
                self.assertError(self.post_raw_json("/v1/query", data), 400)
        self.assertError(self.post_raw_json("/v1/query", b"[1, 2]"), 400)
        self.assertError(self.post_raw_json("/v1/documents", b"{\"text\": "), 400)

    def test_400_query_field(self):
        cases = [({}, "query"), ({"query": None}, "query"), ({"query": ""}, "query"),
                 ({"query": "   "}, "query"), ({"query": 42}, "query"),
                 ({"query": ["a"]}, "query"), ({"query": "a" * 9000}, "query"),
                 ({"query": "x", "top_k": 0}, "top_k"), ({"query": "x", "top_k": 101}, "top_k"),
                 ({"query": "x", "top_k": -1}, "top_k"), ({"query": "x", "top_k": "5"}, "top_k"),
                 ({"query": "x", "top_k": 2.5}, "top_k"),
                 ({"query": "x", "top_k": 2 ** 70}, "top_k"),
                 ({"query": "x", "top_k": True}, "top_k"),
                 ({"query": "x", "mode": "fuzzy"}, "mode"),
                 ({"query": "x", "filter": "team=red"}, "filter"),
                 ({"query": "x", "filter": ["a"]}, "filter"),
                 ({"query": "x", "filter": {"metadata": "red"}}, "filter.metadata"),
                 ({"query": "x", "filter": {"metadata": {"team": 1}}}, "filter.metadata"),
                 ({"query": "x", "filter": {"source_prefix": 3}}, "filter.source_prefix"),
                 ({"query": "x", "filter": {"colour": "red"}}, "filter.colour"),
                 ({"query": "x", "filter": {"metadata": {"k%d" % i: "v" for i in range(17)}}},
                  "filter.metadata")]
        for path in ("/v1/query", "/v1/search"):
            for body, field in cases:
                with self.subTest(path=path, body=body):
                    self.assertError(self.server.post(path, body), 400, field)
        resp = self.server.post("/v1/query", {})
        self.assertIn("query: is required", error_message(resp.body))
        resp = self.server.post("/v1/query", {"query": "x", "top_k": 101})
        self.assertIn("top_k: must be between 1 and 100", error_message(resp.body))

    def test_400_documents_fields(self):
        cases = [({"documents": []}, "documents"), ({"documents": {}}, "documents"),
                 ({"title": "no text"}, "text"), ({"text": ""}, "text"),
                 ({"text": 5}, "text"), ({"text": "x", "format": "pdf"}, "format"),
                 ({"text": "x", "metadata": {"k": 1}}, "metadata"),
                 ({"text": "x", "metadata": "k=v"}, "metadata"), ({"text": "x", "id": 7}, "id"),
                 ({"documents": [{"text": "ok"}, {"title": "missing"}]}, "documents[1].text")]
        for body, field in cases:
            with self.subTest(body=body):
                self.assertError(self.server.post("/v1/documents", body), 400, field)
        resp = self.server.post("/v1/documents", {"title": "t"})
        self.assertIn("text: is required", error_message(resp.body))
        resp = self.server.post("/v1/documents", {"documents": [{"text": "t"}] * 1001})
        self.assertError(resp, 400, "documents")
        # A rejected batch stores nothing (validation happens before any write).
        resp = self.server.post("/v1/search", {"query": "ok", "mode": "bm25"})
        self.assertStatus(resp, 200)

    def test_400_empty_body(self):
        for path in ("/v1/query", "/v1/documents"):
            with self.subTest(path=path):
                resp = self.server.request("POST", path, body=b"",
                                           headers={"Content-Type": "application/json",
                                                    "Content-Length": "0"})
                self.assertError(resp, 400)

    def test_404(self):
        for method, path in (("GET", "/nope"), ("GET", "/v1"), ("POST", "/v1/queries"),
                             ("GET", "/v1/documents/does-not-exist"),
                             ("DELETE", "/v1/documents/does-not-exist"),
                             ("GET", "/v1/documents/")):
            with self.subTest(method=method, path=path):
                body = b"{}" if method == "POST" else None
                headers = {"Content-Type": "application/json"} if body else None
                self.assertError(self.server.request(method, path, body=body, headers=headers),
                                 404)

    def test_405_allow_header(self):
        resp = self.server.request("GET", "/v1/query")
        self.assertError(resp, 405)
        self.assertIn("POST", resp.headers.get("allow", ""))
        resp = self.server.request("PUT", "/v1/documents/abc", body=b"{}",
                                   headers={"Content-Type": "application/json"})
        self.assertError(resp, 405)
        allow = resp.headers.get("allow", "")
        self.assertIn("GET", allow)
        self.assertIn("DELETE", allow)
        resp = self.server.request("DELETE", "/health")
        self.assertError(resp, 405)
        self.assertIn("GET", resp.headers.get("allow", ""))

    def test_411_post_without_content_length(self):
        resp = self.server.raw(b"POST /v1/query HTTP/1.1\r\nHost: t\r\n"
                               b"Content-Type: application/json\r\n\r\n")
        self.assertEqual(resp.status, 411, resp)
        self.assertIn("error", resp.json())
        resp = self.server.raw(b"POST /v1/documents HTTP/1.1\r\nHost: t\r\n"
                               b"Content-Type: application/json\r\nConnection: close\r\n\r\n")
        self.assertEqual(resp.status, 411, resp)

    def test_chunked_body_accepted(self):
        body = json.dumps({"query": "anything", "top_k": 1}).encode()
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        resp = self.server.raw(b"POST /v1/search HTTP/1.1\r\nHost: t\r\n"
                               b"Content-Type: application/json\r\n"
                               b"Transfer-Encoding: chunked\r\n\r\n" + chunked)
        self.assertEqual(resp.status, 200, resp)
        self.assertIn("results", resp.json())

    def test_413_query_body_over_1mib(self):
        big = json.dumps({"query": "a" * (1024 * 1024 + 100 * 1024)}).encode()
        # The limit is enforced from the Content-Length before any body byte is read.
        with self.server.raw_socket() as sock:
            sock.sendall(b"POST /v1/query HTTP/1.1\r\nHost: t\r\n"
                         b"Content-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(big))
            resp = read_raw_response(sock)
        self.assertEqual(resp.status, 413, resp)
        self.assertIn("error", resp.json())
        # A client that sends the whole body still gets the 413 (not a reset).
        resp = self.server.post("/v1/search", big)
        self.assertError(resp, 413)

    def test_413_chunked_body_over_limit(self):
        piece = b"a" * 65536
        chunk = b"%x\r\n%s\r\n" % (len(piece), piece)
        with self.server.raw_socket() as sock:
            sock.sendall(b"POST /v1/query HTTP/1.1\r\nHost: t\r\n"
                         b"Content-Type: application/json\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n")
            try:
                for _ in range(20):  # 1.25 MiB
                    sock.sendall(chunk)
                sock.sendall(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            resp = read_raw_response(sock)
        self.assertEqual(resp.status, 413, resp)

    def test_415_content_type(self):
        for content_type in ("text/plain", "application/x-www-form-urlencoded",
                             "application/jsonx"):
            with self.subTest(content_type=content_type):
                resp = self.post_raw_json("/v1/query", b'{"query": "x"}', content_type)
                self.assertError(resp, 415)
        resp = self.server.raw(b"POST /v1/documents HTTP/1.1\r\nHost: t\r\n"
                               b"Content-Length: 13\r\n\r\n{\"text\": \"x\"}")
        self.assertEqual(resp.status, 415, resp)
        # Parameters and case are fine.
        resp = self.post_raw_json("/v1/search", b'{"query": "x"}',
                                  "Application/JSON; charset=utf-8")
        self.assertStatus(resp, 200)

    def test_431_huge_header(self):
        resp = self.server.request("GET", "/health", headers={"X-Big": "a" * 20 * 1024})
        self.assertError(resp, 431)
        resp = self.server.request("GET", "/health", headers={"X-Ok": "a" * 8 * 1024})
        self.assertStatus(resp, 200)
        resp = self.server.request("GET", "/v1/documents/" + "a" * 20000)  # long request line
        self.assertError(resp, 431)
        many = {"X-H%d" % i: "v" * 100 for i in range(200)}  # many small headers, 20+ KiB
        self.assertError(self.server.request("GET", "/health", headers=many), 431)

    def test_invalid_utf8_in_json_string(self):
        for path in ("/v1/query", "/v1/documents"):
            field = b"query" if path == "/v1/query" else b"text"
            with self.subTest(path=path):
                resp = self.post_raw_json(path, b'{"' + field + b'": "caf\xc3 \xff\xfe end"}')
                self.assertError(resp, 400)

    def test_deeply_nested_json(self):
        depth = 10000
        nested = b'{"query": "x", "filter": ' + b'{"a":' * depth + b'1' + b'}' * depth + b'}'
        self.assertError(self.post_raw_json("/v1/query", nested), 400)
        arrays = b"[" * depth + b"]" * depth
        self.assertError(self.post_raw_json("/v1/documents", arrays), 400)

    def test_malformed_request_line(self):
        resp = self.server.raw(b"THIS IS NOT HTTP\r\n\r\n")
        self.assertEqual(resp.status, 400, resp)
        resp = self.server.raw(b"GET http//x HTTP/1.1\r\nHost: t\r\n\r\n")
        self.assertEqual(resp.status, 400, resp)
        resp = self.server.raw(b"GET /v1/documents/%zz HTTP/1.1\r\nHost: t\r\n\r\n")
        self.assertEqual(resp.status, 400, resp)

    def test_zz_server_still_healthy(self):
        # Named to run last in this class (unittest sorts by name): after every error above the
        # process is alive, answers /health and a real query, and never said 500.
        self.assertTrue(self.server.alive(), self.server.stderr())
        self.assertStatus(self.server.request("GET", "/health"), 200)
        self.server.ingest(id="after-errors", text="Snowfinchery still works after errors.")
        resp = self.server.post("/v1/query", {"query": "snowfinchery"})
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body["sources"][0]["document_id"], "after-errors")
        self.assertNotIn("threw", self.server.stderr())


class DocumentBodyLimitTest(ApiTestBase):
    server_args = ("--set", "server.max_document_body_bytes=2048")

    def test_413_document_body(self):
        resp = self.server.post("/v1/documents", {"id": "big", "text": "word " * 1000})
        self.assertError(resp, 413)
        self.assertIn("2048", error_message(resp.body))
        self.assertError(self.server.request("GET", "/v1/documents/big"), 404)
        self.assertEqual(self.server.ingest(id="small", text="fits under the limit")["status"],
                         "created")
        # The query limit is separate and still 1 MiB.
        resp = self.server.post("/v1/search", {"query": "limit " * 1000})
        self.assertStatus(resp, 200)


class ConnectionTest(ApiTestBase):
    def test_keep_alive_many_requests_one_connection(self):
        conn = self.server.connection()
        try:
            self.server.request("GET", "/health", conn=conn)
            sock = conn.sock
            self.assertIsNotNone(sock)
            for i in range(4):
                resp = self.server.request("POST", "/v1/documents",
                                           body={"id": "ka-%d" % i, "text": "keepalive %d" % i},
                                           conn=conn)
                self.assertStatus(resp, 201)
                self.assertIs(conn.sock, sock, "connection was reopened")
            for path in ("/health", "/v1/documents/ka-0", "/nope", "/ready"):
                resp = self.server.request("GET", path, conn=conn)
                self.assertIn(resp.status, (200, 404))
                self.assertIs(conn.sock, sock, "connection was reopened after " + path)
            resp = self.server.request("POST", "/v1/search", body={"query": "keepalive"},
                                       conn=conn)
            self.assertStatus(resp, 200)
            self.assertIs(conn.sock, sock)
            # A 4xx from validation does not close the connection either.
            self.assertError(self.server.request("POST", "/v1/query", body={}, conn=conn), 400)
            self.assertStatus(self.server.request("GET", "/health", conn=conn), 200)
            self.assertIs(conn.sock, sock)
        finally:
            conn.close()

    def test_pipelined_requests(self):
        req = b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n"
        with self.server.raw_socket() as sock:
            sock.sendall(req * 3)
            reader = RawReader(sock)
            for _ in range(3):
                resp = reader.read()
                self.assertEqual(resp.status, 200, resp)

    def test_concurrent_clients(self):
        errors = []

        def worker(idx):
            try:
                for j in range(5):
                    text = "concurrent ingest worker %d item %d" % (idx, j)
                    resp = self.server.post("/v1/documents",
                                            {"id": "c-%d-%d" % (idx, j), "text": text})
                    if resp.status != 201:
                        errors.append(resp)
                    resp = self.server.post("/v1/search", {"query": "concurrent worker"})
                    if resp.status != 200:
                        errors.append(resp)
            except Exception as e:  # noqa: BLE001 - report any failure from the thread
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        self.assertEqual(self.server.request("GET", "/v1/stats").body["documents"], 20)

    def test_head_and_expect_continue(self):
        resp = self.server.raw(b"HEAD /health HTTP/1.1\r\nHost: t\r\n\r\n")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body, b"")
        self.assertEqual(resp.headers.get("content-length"), str(len(b'{"status":"ok"}')))
        body = b'{"query": "x"}'
        with self.server.raw_socket() as sock:
            sock.sendall(b"POST /v1/search HTTP/1.1\r\nHost: t\r\n"
                         b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(body))
            reader = RawReader(sock)
            self.assertEqual(reader.read().status, 100)
            sock.sendall(body)
            resp = reader.read()
            self.assertEqual(resp.status, 200, resp)
            self.assertIn("results", resp.json())

    def test_client_disconnect_mid_body(self):
        with self.server.raw_socket() as sock:
            sock.sendall(b"POST /v1/query HTTP/1.1\r\nHost: t\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"q")
        with self.server.raw_socket() as sock:
            sock.close()
        self.assertStatus(self.server.request("GET", "/health"), 200)


class TimeoutTest(ApiTestBase):
    """Slow or silent clients are dropped after the configured timeouts; others are unaffected."""

    # Timeouts long enough that a loaded CI machine (parallel ctest, sanitizer builds) still
    # serves the well-behaved client well inside them, short enough to keep the test quick.
    server_args = ("--set", "server.header_timeout_ms=1500", "--set",
                   "server.body_timeout_ms=1500", "--set", "server.idle_timeout_ms=2000")

    def assertClosedWithin(self, sock, seconds):
        start = time.monotonic()
        sock.settimeout(seconds + 5)
        try:
            data = sock.recv(65536)
            while data and b"\r\n\r\n" not in data:  # an error response is fine too
                data += sock.recv(65536)
        except ConnectionResetError:
            data = b""
        elapsed = time.monotonic() - start
        self.assertLess(elapsed, seconds, "connection held %.1f s" % elapsed)
        return data

    def test_partial_head_partial_body_and_idle(self):
        with self.server.raw_socket() as head, self.server.raw_socket() as body, \
                self.server.raw_socket() as idle:
            head.sendall(b"GET /health HTTP/1.1\r\nHo")
            body.sendall(b"POST /v1/search HTTP/1.1\r\nHost: t\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
            idle.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
            self.assertEqual(RawReader(idle).read().status, 200)
            # Meanwhile a well-behaved client is served at once, not after the slow ones time out.
            start = time.monotonic()
            self.assertStatus(self.server.request("GET", "/health"), 200)
            self.assertLess(time.monotonic() - start, 1.0)
            self.assertClosedWithin(head, 6.0)
            self.assertClosedWithin(body, 6.0)
            self.assertEqual(self.assertClosedWithin(idle, 6.0), b"")
        self.assertStatus(self.server.request("GET", "/health"), 200)


class ShutdownTest(unittest.TestCase):
    def test_sigterm_with_open_connections_exits_0(self):
        server = RagdServer()
        server.start()
        try:
            idle = server.raw_socket()
            idle.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
            RawReader(idle).read()          # keep-alive connection, now idle
            half = server.raw_socket()
            half.sendall(b"GET /hea")        # a request head cut short
            body = server.raw_socket()
            body.sendall(b"POST /v1/query HTTP/1.1\r\nHost: t\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 50\r\n\r\n{")
            time.sleep(0.1)
            start = time.monotonic()
            code = server.stop()
            self.assertEqual(code, 0, server.stderr())
            self.assertLess(time.monotonic() - start, 5.0)
            for sock in (idle, half, body):
                sock.close()
        finally:
            server.stop()


class OverloadTest(ApiTestBase):
    """With a compute queue of 1, a burst either succeeds or gets a well-formed 503."""

    server_args = ("--set", "server.max_queued_requests=1")

    def test_burst_gets_201_or_503(self):
        text = " ".join("overloadword%d filler sentence here." % i for i in range(3000))
        results = []

        def worker(idx):
            results.append(self.server.post("/v1/documents", {"id": "o%d" % idx, "text": text}))

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(len(results), 8)
        for resp in results:
            self.assertIn(resp.status, (201, 503), resp)
            if resp.status == 503:
                self.assertError(resp, 503)
                self.assertEqual(resp.headers.get("retry-after"), "1")
        self.assertIn(201, [r.status for r in results])
        self.assertStatus(self.server.request("GET", "/health"), 200)
        self.assertStatus(self.server.post("/v1/search", {"query": "overloadword7"}), 200)


if __name__ == "__main__":
    unittest.main(verbosity=2)
