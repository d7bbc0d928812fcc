#!/usr/bin/env python3
# Black-box tests of reranking: `ragd serve` with rerank.provider pointed at `ragd mock-llm`'s
# rerank endpoints (Cohere's /v1/rerank and text-embeddings-inference's /rerank). The mock scores
# a passage by the share of the question's words it contains, so the expected order is
# recomputed here. Also: a request turning the reranker off, an unreachable reranker (the fused
# order stands, the query succeeds), streaming, the cache keeping the two apart, metrics, and
# startup refusing a half-configured reranker. Python 3 stdlib only.
import json
import os
import re
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ragd_harness import (DATA_DIR, MockLlm, RagdServer, run_cli, scaled,  # noqa: E402
                          wait_for)

CORPUS = os.path.join(DATA_DIR, "corpus")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QUESTION = "How did the keeper trim the wick of the lighthouse lamp?"
SHARED = {}


def setUpModule():
    SHARED["tmp"] = tempfile.mkdtemp(prefix="ragd-it-rerank-")
    SHARED["data"] = os.path.join(SHARED["tmp"], "data")
    # The small corpus plus ragd's own docs: enough passages for the reranker to reorder.
    paths = [os.path.join(CORPUS, name) for name in ("lighthouse.md", "sourdough.txt", "guides")]
    paths.append(os.path.join(REPO, "docs"))
    result = run_cli("ingest", "--data", SHARED["data"], *paths)
    if result.returncode != 0:
        raise AssertionError("ingest failed: %r" % (result,))


def tearDownModule():
    shutil.rmtree(SHARED.pop("tmp", ""), ignore_errors=True)


def overlap_score(query, document):
    """The mock's score (src/mock/rerank.cpp): share of the query's distinct words present."""
    def words(text):
        return set(re.findall(r"[a-z0-9]+", text.lower()))
    wanted = words(query)
    return len(wanted & words(document)) / len(wanted) if wanted else 0.0


def passage_text(result):
    """What ragd sends the reranker for a passage: its title, a blank line, its text."""
    if result["title"]:
        return result["title"] + "\n\n" + result["text"]
    return result["text"]


class RerankTestCase(unittest.TestCase):
    def start_mock(self):
        mock = MockLlm().start()
        self.addCleanup(mock.stop)
        return mock

    def start_ragd(self, rerank, extra_env=None):
        env = {"RAGD_CACHE_L1_MAX_BYTES": "0"}
        for key, value in rerank.items():
            env["RAGD_RERANK_" + key.upper()] = str(value)
        env.update(extra_env or {})
        server = RagdServer(env=env, data_dir=SHARED["data"])
        server.start()
        self.addCleanup(server.stop)
        return server

    def search(self, server, **extra):
        body = {"query": QUESTION, "top_k": 3}
        body.update(extra)
        resp = server.post("/v1/search", body)
        self.assertEqual(resp.status, 200, resp)
        return resp.body

    def assert_reranked(self, results, candidates):
        """Results are the best of `candidates` by the mock's score, numbered 1.., scores shown."""
        self.assertEqual([r["n"] for r in results], list(range(1, len(results) + 1)))
        scores = [r["rerank_score"] for r in results]
        self.assertEqual(scores, sorted(scores, reverse=True), results)
        for result in results:
            self.assertAlmostEqual(result["rerank_score"],
                                   overlap_score(QUESTION, passage_text(result)), places=9)
        best = sorted((overlap_score(QUESTION, passage_text(c)) for c in candidates),
                      reverse=True)[:len(results)]
        self.assertEqual([round(s, 9) for s in scores], [round(s, 9) for s in best])


class CohereRerankTest(RerankTestCase):
    def test_search_query_stream_and_opt_out(self):
        mock = self.start_mock()
        server = self.start_ragd({"provider": "cohere", "base_url": mock.url,
                                  "model": "rerank-it", "candidates": 8})
        # The candidates the reranker saw: the fused top 8, asked for without reranking.
        fused = self.search(server, top_k=8, rerank=False)
        self.assertNotIn("rerank", fused["timings_ms"])
        for result in fused["results"]:
            self.assertNotIn("rerank_score", result)

        body = self.search(server)
        self.assertEqual(len(body["results"]), 3)
        self.assertIn("rerank", body["timings_ms"])
        self.assert_reranked(body["results"], fused["results"])

        resp = server.post("/v1/query", {"query": QUESTION, "top_k": 3})
        self.assertEqual(resp.status, 200, resp)
        self.assert_reranked(resp.body["sources"], fused["results"])
        for number in resp.body["cited"]:
            self.assertIn(number, [s["n"] for s in resp.body["sources"]])

        conn = server.connection()
        self.addCleanup(conn.close)
        conn.request("POST", "/v1/query",
                     body=json.dumps({"query": QUESTION, "top_k": 3, "stream": True}),
                     headers={"Content-Type": "application/json"})
        stream = conn.getresponse()
        self.assertEqual(stream.status, 200)
        text = stream.read().decode()
        sources = json.loads(text.split("event: sources\ndata: ", 1)[1].split("\n", 1)[0])
        self.assert_reranked(sources["sources"], fused["results"])

        stats = mock.stats()
        self.assertEqual(stats["requests"]["rerank"], 3, "one call per reranked request")
        self.assertEqual(stats["bad_requests"], 0)
        metrics = server.request("GET", "/metrics").body.decode()
        self.assertIn('ragd_rerank_total{outcome="applied"} 3', metrics)
        self.assertIn('ragd_stage_duration_seconds_count{stage="rerank"} 3', metrics)


    def test_a_single_candidate_needs_no_call_and_is_cached(self):
        mock = self.start_mock()
        server = self.start_ragd({"provider": "cohere", "base_url": mock.url},
                                 extra_env={"RAGD_CACHE_L1_MAX_BYTES": str(16 << 20)})
        only = {"source_prefix": os.path.join(CORPUS, "guides", "orchids.markdown")}
        body = {"query": "How should orchids be watered?", "top_k": 3, "filter": only}
        first = server.post("/v1/query", body)
        self.assertEqual(first.status, 200, first)
        self.assertEqual(len(first.body["sources"]), 1)
        self.assertNotIn("rerank", first.body["timings_ms"])
        self.assertEqual(mock.stats()["requests"]["rerank"], 0)
        again = server.post("/v1/query", body)
        self.assertTrue(again.body["cached"], "one passage needs no reranking: still cacheable")


class TeiRerankTest(RerankTestCase):
    def test_tei_dialect(self):
        mock = self.start_mock()
        server = self.start_ragd({"provider": "tei", "base_url": mock.url, "candidates": 6})
        fused = self.search(server, top_k=6, rerank=False)
        body = self.search(server, top_k=2)
        self.assert_reranked(body["results"], fused["results"])
        self.assertEqual(mock.stats()["requests"]["rerank"], 1)


class RerankFailureTest(RerankTestCase):
    def test_unreachable_reranker_keeps_the_fused_order(self):
        mock = self.start_mock()
        dead_url = mock.url
        mock.stop()  # nothing listens there any more: connections are refused
        server = self.start_ragd({"provider": "cohere", "base_url": dead_url, "candidates": 8,
                                  "timeout_ms": 500})
        fused = self.search(server, top_k=3, rerank=False)
        body = self.search(server)
        self.assertIn("rerank", body["timings_ms"], "the attempt is timed")
        self.assertEqual([r["chunk_id"] for r in body["results"]],
                         [r["chunk_id"] for r in fused["results"]])
        for result in body["results"]:
            self.assertNotIn("rerank_score", result)
        resp = server.post("/v1/query", {"query": QUESTION, "top_k": 3})
        self.assertEqual(resp.status, 200, resp)
        self.assertTrue(resp.body["answer"])
        metrics = server.request("GET", "/metrics").body.decode()
        self.assertIn('ragd_rerank_total{outcome="failed"} 2', metrics)
        # The access log marks both (the search and the query); the opted-out search is unmarked.
        wait_for(lambda: server.stderr().count('"degraded":"reranker"') == 2,
                 scaled(5), 'two access lines with "degraded":"reranker"')
        ready = server.request("GET", "/ready").body
        self.assertEqual(ready["checks"]["reranker"]["breaker"], "closed", ready)
        # Three more failures make five in a row: the breaker opens, /ready says so (an
        # optional check: still ready), and queries still succeed in fused order.
        for _ in range(3):
            self.search(server)
        ready = server.request("GET", "/ready")
        self.assertEqual(ready.status, 200, ready)
        self.assertEqual(ready.body["checks"]["reranker"]["status"], "degraded", ready.body)
        self.assertEqual(ready.body["checks"]["reranker"]["breaker"], "open", ready.body)
        body = self.search(server)
        self.assertEqual([r["chunk_id"] for r in body["results"]],
                         [r["chunk_id"] for r in fused["results"]])

    def test_cache_keeps_reranked_and_fused_answers_apart(self):
        mock = self.start_mock()
        server = self.start_ragd({"provider": "cohere", "base_url": mock.url},
                                 extra_env={"RAGD_CACHE_L1_MAX_BYTES": str(16 << 20)})
        first = server.post("/v1/query", {"query": QUESTION, "top_k": 3})
        self.assertEqual(first.status, 200, first)
        self.assertFalse(first.body["cached"])
        plain = server.post("/v1/query", {"query": QUESTION, "top_k": 3, "rerank": False})
        self.assertEqual(plain.status, 200, plain)
        self.assertFalse(plain.body["cached"], "a fused answer is not the reranked one")
        again = server.post("/v1/query", {"query": QUESTION, "top_k": 3})
        self.assertTrue(again.body["cached"])
        self.assertIn("rerank_score", again.body["sources"][0])

    def test_bad_configuration_stops_startup(self):
        cases = (({"RAGD_RERANK_PROVIDER": "cohere"}, "rerank.base_url"),
                 ({"RAGD_RERANK_PROVIDER": "voyager", "RAGD_RERANK_BASE_URL": "http://127.0.0.1:9"},
                  "rerank.provider"),
                 ({"RAGD_RERANK_PROVIDER": "cohere", "RAGD_RERANK_BASE_URL": "http://127.0.0.1:9",
                   "RAGD_RERANK_API_KEY_ENV": "IT_UNSET_RERANK_KEY"}, "IT_UNSET_RERANK_KEY"))
        for env, expected in cases:
            result = run_cli("serve", "--data", SHARED["data"], "--listen", "127.0.0.1:0",
                             env=env, timeout=30)
            self.assertNotEqual(result.returncode, 0, result)
            self.assertIn(expected, result.stderr, result)

    def test_request_field_is_validated(self):
        mock = self.start_mock()
        server = self.start_ragd({"provider": "cohere", "base_url": mock.url})
        resp = server.post("/v1/search", {"query": QUESTION, "rerank": "yes"})
        self.assertEqual(resp.status, 400, resp)
        self.assertIn("rerank", resp.body["error"]["message"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
