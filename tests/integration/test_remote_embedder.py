#!/usr/bin/env python3
# Black-box tests of the remote embedder: `embed.provider = "openai"` pointed at `ragd mock-llm`'s
# POST /v1/embeddings (a deterministic vector of hashed words, as long as the request's
# "dimensions", 64 by default). Covered: `ragd ingest` embedding through the service (and the
# model recorded in vectors.meta), `ragd serve` embedding documents and questions, a service that
# goes away (hybrid retrieval falls back to BM25 and is not cached, vector-only retrieval is an
# error) and comes back on the same port, retries through injected 500s and resets, startup
# refusing a half-configured embedder, and a model switch rebuilding the vector index instead of
# reusing another model's vectors (and a re-ingest of unchanged files embedding them with the new
# model). Python 3 stdlib only.
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ragd_harness import MockLlm, RagdServer, run_cli, scaled, wait_for  # noqa: E402

QUESTION = "How does the keeper trim the wick of the lighthouse lamp?"
# A distinctive key: sent to the service, never to appear in ragd's output.
EMBED_KEY = "sk-ragdit-EMBED-2b9e7d41c0"

# Small Markdown files: a few about lighthouses (the question's topic), the rest elsewhere.
TOPICS = (
    ("lighthouse", "The Lighthouse Keeper",
     "The keeper climbs the tower at dusk, trims the wick of the lighthouse lamp and polishes "
     "the lens so the light reaches ships far out at sea."),
    ("lens", "Fresnel Lenses",
     "A Fresnel lens bends the lamp's light into a narrow beam; rings of prisms focus it "
     "towards the horizon."),
    ("sourdough", "Sourdough Bread",
     "Feed the starter with flour and water, let the dough rise overnight and bake it in a "
     "hot oven until the crust is dark."),
    ("orchids", "Watering Orchids",
     "Orchids want water once a week; let the bark dry between waterings and never leave the "
     "roots standing in water."),
    ("bicycles", "Bicycle Repair",
     "To fix a flat tyre, remove the wheel, find the puncture, patch the inner tube and pump "
     "it back up to pressure."),
)

SHARED = {}


def setUpModule():
    SHARED["tmp"] = tempfile.mkdtemp(prefix="ragd-it-embed-")


def tearDownModule():
    shutil.rmtree(SHARED.pop("tmp", ""), ignore_errors=True)


def markdown(title, text, extra=""):
    return "# %s\n\n%s\n\n## Notes\n\n%s %s\n" % (title, text, text, extra)


def write_corpus(directory, copies=1):
    """Writes the topics as Markdown files (`copies` variants of each); returns their count."""
    os.makedirs(directory, exist_ok=True)
    count = 0
    for copy in range(copies):
        for name, title, text in TOPICS:
            path = os.path.join(directory, "%s-%d.md" % (name, copy))
            with open(path, "w", encoding="utf-8") as f:
                f.write(markdown(title, text, "Copy number %d." % copy))
            count += 1
    return count


def embed_env(url, model="it-embed-a", dimensions=64, **extra):
    """RAGD_EMBED_* variables for the openai embedder at `url`; `extra` keys are embed.* keys."""
    env = {"RAGD_EMBED_PROVIDER": "openai", "RAGD_EMBED_BASE_URL": url,
           "RAGD_EMBED_MODEL": model, "RAGD_EMBED_DIMENSIONS": str(dimensions)}
    for key, value in extra.items():
        env["RAGD_EMBED_" + key.upper()] = str(value).lower() if isinstance(value, bool) \
            else str(value)
    return env


def read_meta(data_dir):
    with open(os.path.join(data_dir, "vectors.meta"), encoding="utf-8") as f:
        return f.read()


def meta_model(data_dir):
    for line in read_meta(data_dir).splitlines():
        if line.startswith("model "):
            return line.split(" ", 1)[1].strip()
    return None


def meta_count(data_dir):
    for line in read_meta(data_dir).splitlines():
        if line.startswith("count "):
            return int(line.split()[1])
    return None


def embeddings(mock):
    return mock.stats()["requests"]["embeddings"]


def vector_ranks(results):
    return [r["ranks"]["vector"] for r in results]


def document_batch():
    return {"documents": [{"id": name, "title": title, "format": "markdown",
                           "source": "it://%s" % name, "text": markdown(title, text)}
                          for name, title, text in TOPICS]}


class EmbedderTestCase(unittest.TestCase):
    def start_mock(self, args=(), port=0):
        mock = MockLlm(args, port=port).start()
        self.addCleanup(mock.stop)
        return mock

    def start_silent_service(self):
        """A server on 127.0.0.1 that accepts connections and never answers; returns its URL."""
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(0.1)
        stop = threading.Event()
        held = []

        def hold():
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                except socket.timeout:
                    continue
                except OSError:
                    return
                held.append(conn)
        thread = threading.Thread(target=hold, daemon=True)
        thread.start()

        def close():
            stop.set()
            thread.join(timeout=5)
            listener.close()
            for conn in held:
                conn.close()
        self.addCleanup(close)
        return "http://127.0.0.1:%d" % listener.getsockname()[1]

    def start_ragd(self, env, data_dir=None):
        server = RagdServer(env=env, data_dir=data_dir)
        server.start()
        self.addCleanup(server.stop)
        return server

    def temp_dir(self, name):
        path = os.path.join(SHARED["tmp"], "%s-%s" % (self.id().rsplit(".", 1)[1], name))
        os.makedirs(path, exist_ok=True)
        return path

    def corpus(self):
        directory = self.temp_dir("corpus")
        write_corpus(directory)
        return directory

    def search(self, server, **extra):
        body = {"query": QUESTION, "top_k": 5}
        body.update(extra)
        return server.post("/v1/search", body)

    def assert_ok_search(self, server, **extra):
        resp = self.search(server, **extra)
        self.assertEqual(resp.status, 200, resp)
        self.assertTrue(resp.body["results"], resp)
        return resp.body["results"]

    def ingest_cli(self, data_dir, paths, env, timeout=60):
        result = run_cli("ingest", "--data", data_dir, *paths, env=env, timeout=scaled(timeout))
        self.assertEqual(result.returncode, 0, result)
        return result


class IngestTest(EmbedderTestCase):
    def test_ingest_embeds_through_the_service(self):
        mock = self.start_mock()
        corpus = self.temp_dir("corpus")
        files = write_corpus(corpus)
        data = os.path.join(self.temp_dir("run"), "data")
        # 48 dimensions sent in each request: the mock answers vectors that long.
        env = embed_env(mock.url, dimensions=48, send_dimensions=True, batch_size=2)
        result = self.ingest_cli(data, [corpus], env)
        self.assertIn("ingested %d files" % files, result.stdout, result)
        self.assertIn("; 0 failed", result.stdout, result)

        stats = mock.stats()
        # Each file is at least one request (batches of 2 chunks).
        self.assertGreaterEqual(stats["requests"]["embeddings"], files, stats)
        self.assertEqual(stats["bad_requests"], 0, stats)
        self.assertEqual(meta_model(data), "openai:it-embed-a:48", read_meta(data))
        self.assertIn("dimensions 48\n", read_meta(data))
        self.assertGreater(meta_count(data), 0, read_meta(data))

        # The CLI's search embeds the question through the service too and finds the keeper.
        before = embeddings(mock)
        found = run_cli("search", "--data", data, "--json", QUESTION, env=env, timeout=scaled(30))
        self.assertEqual(found.returncode, 0, found)
        results = found.json()["results"]
        self.assertTrue(any(rank is not None for rank in vector_ranks(results)), results)
        self.assertEqual(results[0]["title"], "The Lighthouse Keeper", results)
        self.assertEqual(embeddings(mock), before + 1)

        check = run_cli("check", "--data", data, env=env, timeout=scaled(30))
        self.assertEqual(check.returncode, 0, check)

        # An unchanged re-ingest embeds nothing.
        before = embeddings(mock)
        again = self.ingest_cli(data, [corpus], env)
        self.assertIn("%d unchanged" % files, again.stdout, again)
        self.assertEqual(embeddings(mock), before)

    def test_retries_ride_out_injected_errors(self):
        mock = self.start_mock(["--error-rate", "0.3", "--error-kinds", "500,reset",
                                "--seed", "7"])
        corpus = self.temp_dir("corpus")
        files = write_corpus(corpus, copies=6)
        self.assertEqual(files, 30)
        data = os.path.join(self.temp_dir("run"), "data")
        env = embed_env(mock.url, max_attempts=6, timeout_ms=5000)
        result = self.ingest_cli(data, [corpus], env, timeout=120)
        self.assertIn("ingested %d files" % files, result.stdout, result)
        self.assertIn("; 0 failed", result.stdout, result)
        stats = mock.stats()
        injected = stats["errors_injected"]
        self.assertGreater(injected["500"] + injected["reset"], 0, stats)
        self.assertEqual(injected["429"] + injected["stall"], 0, stats)
        # One request per file (its two chunks fit one batch), plus one retry per injected error.
        self.assertEqual(stats["requests"]["embeddings"],
                         files + injected["500"] + injected["reset"], stats)
        self.assertEqual(meta_count(data), 2 * files, read_meta(data))
        check = run_cli("check", "--data", data, env=env, timeout=scaled(30))
        self.assertEqual(check.returncode, 0, check)


class StartupTest(EmbedderTestCase):
    def test_half_configured_embedder_stops_startup(self):
        corpus = self.temp_dir("corpus")
        write_corpus(corpus)
        data = os.path.join(self.temp_dir("run"), "data")
        cases = (
            ({"RAGD_EMBED_PROVIDER": "openai", "RAGD_EMBED_MODEL": "it-embed-a"},
             "embed.base_url"),
            ({"RAGD_EMBED_PROVIDER": "openai", "RAGD_EMBED_BASE_URL": "http://127.0.0.1:9"},
             "embed.model"),
            (embed_env("http://127.0.0.1:9", api_key_env="IT_UNSET_EMBED_KEY"),
             "IT_UNSET_EMBED_KEY"),
        )
        for env, expected in cases:
            with self.subTest(expected=expected):
                result = run_cli("ingest", "--data", data, corpus, env=env, timeout=scaled(30))
                self.assertNotEqual(result.returncode, 0, result)
                self.assertIn(expected, result.stderr, result)
                self.assertNotIn("ingested", result.stdout, result)
        # `ragd serve` refuses the same configuration.
        result = run_cli("serve", "--data", data, "--listen", "127.0.0.1:0",
                         env=embed_env("http://127.0.0.1:9", api_key_env="IT_UNSET_EMBED_KEY"),
                         timeout=scaled(30))
        self.assertNotEqual(result.returncode, 0, result)
        self.assertIn("IT_UNSET_EMBED_KEY", result.stderr, result)

    def test_wrong_dimensions_fail_each_file(self):
        mock = self.start_mock()
        corpus = self.temp_dir("corpus")
        files = write_corpus(corpus)
        data = os.path.join(self.temp_dir("run"), "data")
        # The mock answers 64 dimensions unless asked: 32 configured, not sent.
        result = run_cli("ingest", "--data", data, corpus, env=embed_env(mock.url, dimensions=32),
                         timeout=scaled(30))
        self.assertNotEqual(result.returncode, 0, result)
        self.assertIn("; %d failed" % files, result.stdout, result)
        self.assertIn("embed.dimensions", result.stderr, result)


class ServeTest(EmbedderTestCase):
    def test_documents_and_questions_are_embedded_remotely(self):
        mock = self.start_mock()
        env = embed_env(mock.url, model="it-embed-serve", api_key_env="IT_EMBED_KEY")
        env["IT_EMBED_KEY"] = EMBED_KEY
        server = self.start_ragd(env)
        resp = server.post("/v1/documents", document_batch())
        self.assertEqual(resp.status, 201, resp)
        self.assertEqual([d["status"] for d in resp.body["documents"]],
                         ["created"] * len(TOPICS))
        after_ingest = embeddings(mock)
        self.assertGreater(after_ingest, 0)

        hybrid = self.assert_ok_search(server)
        self.assertEqual(embeddings(mock), after_ingest + 1, "one embedding per search")
        self.assertTrue(any(rank is not None and rank > 0 for rank in vector_ranks(hybrid)),
                        hybrid)
        self.assertEqual(hybrid[0]["document_id"], "lighthouse", hybrid)

        vector = self.assert_ok_search(server, mode="vector")
        self.assertEqual(embeddings(mock), after_ingest + 2)
        for result in vector:
            self.assertIsNotNone(result["ranks"]["vector"], vector)
            self.assertIsNone(result["ranks"]["bm25"], vector)
        self.assertEqual(vector[0]["document_id"], "lighthouse", vector)

        # BM25 alone needs no embedding.
        bm25 = self.assert_ok_search(server, mode="bm25")
        self.assertEqual(embeddings(mock), after_ingest + 2)
        self.assertEqual(vector_ranks(bm25), [None] * len(bm25))

        answered = server.post("/v1/query", {"query": QUESTION, "top_k": 3})
        self.assertEqual(answered.status, 200, answered)
        self.assertTrue(answered.body["answer"], answered)
        self.assertFalse(answered.body["cached"])
        self.assertTrue(any(s["ranks"]["vector"] for s in answered.body["sources"]), answered)
        self.assertEqual(embeddings(mock), after_ingest + 3)
        self.assertEqual(mock.stats()["bad_requests"], 0)

        # The embedder is part of the status the server reports.
        stats = server.request("GET", "/v1/stats")
        self.assertEqual(stats.status, 200, stats)
        self.assertIn("openai:it-embed-serve:64", str(stats.body), stats)
        ready = server.request("GET", "/ready")
        self.assertEqual(ready.status, 200, ready)
        self.assertEqual(ready.body["checks"]["embedder"]["status"], "ok", ready.body)
        self.assertEqual(ready.body["checks"]["embedder"]["breaker"], "closed", ready.body)
        self.assertEqual(server.stop(), 0)
        self.assertNotIn(EMBED_KEY, server.stderr())

    def test_semantic_cache_and_retrieval_share_one_embedding(self):
        mock = self.start_mock()
        env = embed_env(mock.url)
        env["RAGD_CACHE_SEMANTIC_ENABLED"] = "true"
        server = self.start_ragd(env)
        resp = server.post("/v1/documents", document_batch())
        self.assertEqual(resp.status, 201, resp)
        before = embeddings(mock)
        first = server.post("/v1/query", {"query": QUESTION, "top_k": 3})
        self.assertEqual(first.status, 200, first)
        self.assertFalse(first.body["cached"], first.body)
        self.assertEqual(embeddings(mock), before + 1,
                         "the semantic lookup and retrieval share the question's vector")
        # The same words in another order: another exact key, the same mock vector.
        reworded = "The wick of the lighthouse lamp: how does the keeper trim it?"
        second = server.post("/v1/query", {"query": reworded, "top_k": 3})
        self.assertEqual(second.status, 200, second)
        self.assertTrue(second.body["cached"], second.body)
        self.assertEqual(second.body["answer"], first.body["answer"])
        self.assertEqual(embeddings(mock), before + 2)

    def test_embedder_outage_degrades_to_bm25_and_recovers(self):
        mock = self.start_mock()
        port = mock.port
        # One attempt per request: four failed questions stay below the circuit breaker's five.
        server = self.start_ragd(embed_env(mock.url, max_attempts=1, timeout_ms=2000))
        resp = server.post("/v1/documents", document_batch())
        self.assertEqual(resp.status, 201, resp)
        healthy = self.assert_ok_search(server)
        self.assertTrue(any(vector_ranks(healthy)), healthy)

        mock.stop()  # connections to the port are refused from now on

        degraded = self.assert_ok_search(server)
        self.assertEqual(vector_ranks(degraded), [None] * len(degraded), degraded)
        self.assertTrue(all(r["ranks"]["bm25"] for r in degraded), degraded)
        self.assertEqual(degraded[0]["document_id"], "lighthouse", degraded)

        vector = self.search(server, mode="vector")
        self.assertEqual(vector.status, 503, vector)
        self.assertEqual(vector.body["error"]["type"], "unavailable", vector)
        self.assertIn("embeddings service", vector.body["error"]["message"], vector)

        for _ in range(2):
            answered = server.post("/v1/query", {"query": QUESTION, "top_k": 3})
            self.assertEqual(answered.status, 200, answered)
            self.assertTrue(answered.body["answer"], answered)
            self.assertFalse(answered.body["cached"], "a BM25-only answer must not be cached")
            self.assertEqual([s["ranks"]["vector"] for s in answered.body["sources"]],
                             [None] * len(answered.body["sources"]), answered)

        # Four failures in a row: the circuit breaker (five) is still closed.
        ready = server.request("GET", "/ready")
        self.assertEqual(ready.status, 200, ready)
        self.assertEqual(ready.body["checks"]["embedder"]["breaker"], "closed", ready.body)
        # Operators see the outage in metrics and in the log.
        metrics = server.request("GET", "/metrics").body.decode()
        self.assertIn('ragd_question_embeddings_total{outcome="ok"} 1', metrics)
        self.assertIn('ragd_question_embeddings_total{outcome="failed"} 4', metrics)
        # Only the healthy search ran the vector stage: a fallback records no 0 ms vector time.
        self.assertIn('ragd_stage_duration_seconds_count{stage="vector"} 1\n', metrics)
        self.assertIn('ragd_stage_duration_seconds_count{stage="bm25"} 4\n', metrics)
        wait_for(lambda: "question embedding failed; searching with BM25 alone"
                 in server.stderr(), scaled(5), "the warning in the log")
        # The access log marks each of the three fallbacks (one search, two queries).
        wait_for(lambda: server.stderr().count('"degraded":"embedder"') == 3,
                 scaled(5), 'three access lines with "degraded":"embedder"')

        # The service comes back on the same port: vector ranks return.
        revived = self.start_mock(port=port)
        self.assertEqual(revived.port, port)

        def recovered():
            results = self.assert_ok_search(server)
            return any(vector_ranks(results))
        wait_for(recovered, scaled(15), "vector ranks after the embedder came back",
                 interval=0.2)
        self.assertGreater(embeddings(revived), 0)
        first = server.post("/v1/query", {"query": QUESTION, "top_k": 3})
        self.assertEqual(first.status, 200, first)
        self.assertFalse(first.body["cached"], "the degraded answer was not stored")
        self.assertTrue(any(s["ranks"]["vector"] for s in first.body["sources"]), first)
        again = server.post("/v1/query", {"query": QUESTION, "top_k": 3})
        self.assertEqual(again.status, 200, again)
        self.assertTrue(again.body["cached"], "a healthy answer is cached")
        self.assertTrue(server.alive())

    def test_circuit_breaker_turns_questions_away_then_recovers(self):
        mock = self.start_mock()
        port = mock.port
        server = self.start_ragd(embed_env(mock.url, max_attempts=1, timeout_ms=2000))
        resp = server.post("/v1/documents", document_batch())
        self.assertEqual(resp.status, 201, resp)
        mock.stop()
        # Five failed questions in a row open the breaker; every search still answers.
        for _ in range(5):
            results = self.assert_ok_search(server)
            self.assertEqual(vector_ranks(results), [None] * len(results), results)
        ready = server.request("GET", "/ready")
        self.assertEqual(ready.status, 200, "the embedder is an optional check: %r" % (ready,))
        embedder = ready.body["checks"]["embedder"]
        self.assertEqual((embedder["status"], embedder["breaker"]), ("degraded", "open"),
                         ready.body)
        opened = time.monotonic()
        vector = self.search(server, mode="vector")
        self.assertEqual(vector.status, 503, vector)
        self.assertIn("circuit breaker", vector.body["error"]["message"], vector)

        # Back on the same port: while the breaker is open no question reaches it; once it
        # admits a probe, vector ranks return and the breaker closes again.
        revived = self.start_mock(port=port)
        results = self.assert_ok_search(server)
        if time.monotonic() - opened < 4.0:  # well inside the breaker's 5 s open period
            self.assertEqual(vector_ranks(results), [None] * len(results), results)
            self.assertEqual(embeddings(revived), 0)

        def recovered():
            return any(vector_ranks(self.assert_ok_search(server)))
        wait_for(recovered, scaled(15), "vector ranks after the breaker's open period",
                 interval=0.25)

        def closed():
            if server.request("GET", "/ready").body["checks"]["embedder"]["breaker"] == "closed":
                return True
            self.assert_ok_search(server)  # another probe: two successes close it
            return False
        wait_for(closed, scaled(10), "the embedder's breaker to close", interval=0.1)
        self.assertEqual(server.request("GET", "/ready").body["checks"]["embedder"]["status"],
                         "ok")
        self.assertEqual(self.search(server, mode="vector").status, 200)

    def test_a_service_that_never_answers_times_out(self):
        data = os.path.join(self.temp_dir("run"), "data")
        mock = self.start_mock()
        self.ingest_cli(data, [self.corpus()], embed_env(mock.url))
        mock.stop()
        url = self.start_silent_service()

        server = self.start_ragd(embed_env(url, max_attempts=2, timeout_ms=300), data_dir=data)
        started = time.monotonic()
        vector = self.search(server, mode="vector")
        self.assertEqual(vector.status, 504, vector)
        self.assertEqual(vector.body["error"]["type"], "timeout", vector)
        self.assertIn("(after 2 attempts)", vector.body["error"]["message"], vector)
        self.assertLess(time.monotonic() - started, scaled(10))
        hybrid = self.assert_ok_search(server)
        self.assertEqual(vector_ranks(hybrid), [None] * len(hybrid), hybrid)
        self.assertIn("lighthouse", hybrid[0]["source"], hybrid)

    def test_a_question_waits_only_its_own_deadline(self):
        data = os.path.join(self.temp_dir("run"), "data")
        mock = self.start_mock()
        self.ingest_cli(data, [self.corpus()], embed_env(mock.url))
        mock.stop()
        url = self.start_silent_service()
        # embed.timeout_ms is for ingest; a question gives up at embed.query_timeout_ms.
        server = self.start_ragd(embed_env(url, timeout_ms=30000, query_timeout_ms=300),
                                 data_dir=data)
        started = time.monotonic()
        vector = self.search(server, mode="vector")
        self.assertEqual(vector.status, 504, vector)
        self.assertIn("embed.query_timeout_ms (300 ms)", vector.body["error"]["message"], vector)
        self.assertLess(time.monotonic() - started, scaled(5))
        started = time.monotonic()
        hybrid = self.assert_ok_search(server)
        self.assertLess(time.monotonic() - started, scaled(5))
        self.assertEqual(vector_ranks(hybrid), [None] * len(hybrid), hybrid)


class ModelSwitchTest(EmbedderTestCase):
    def test_another_model_rebuilds_the_vector_index(self):
        mock = self.start_mock()
        corpus = self.corpus()
        data = os.path.join(self.temp_dir("run"), "data")
        env_a = embed_env(mock.url, model="it-model-a")
        env_b = embed_env(mock.url, model="it-model-b")
        self.ingest_cli(data, [corpus], env_a)
        self.assertEqual(meta_model(data), "openai:it-model-a:64")
        chunks = meta_count(data)
        self.assertGreater(chunks, 0)

        # Model B on the same data dir: same dimensions, but A's vectors are not reused.
        server = self.start_ragd(env_b, data_dir=data)
        wait_for(lambda: "vectors were built by model openai:it-model-a:64" in server.stderr(),
                 scaled(5), "the rebuild note on stderr")
        results = self.assert_ok_search(server)
        self.assertEqual(vector_ranks(results), [None] * len(results),
                         "model A's vectors must not answer model B's questions")
        # A document ingested under model B is embedded by B and found by vector search.
        created = server.ingest(id="keeper-b", title="Keeper's Log", format="markdown",
                                text=markdown("Keeper's Log", TOPICS[0][2]))
        self.assertEqual(created["status"], "created")
        vector = self.assert_ok_search(server, mode="vector")
        self.assertIn("keeper-b", [r["document_id"] for r in vector], vector)
        self.assertTrue(server.alive())
        self.assertEqual(server.stop(), 0, server.stderr())
        self.assertEqual(meta_model(data), "openai:it-model-b:64", read_meta(data))
        self.assertEqual(meta_count(data), created["chunks"], read_meta(data))

        # Back to model A: the index is rebuilt from A's vectors, still in storage.
        found = run_cli("search", "--data", data, "--json", QUESTION, env=env_a,
                        timeout=scaled(30))
        self.assertEqual(found.returncode, 0, found)
        self.assertIn("rebuilding", found.stderr, found)
        self.assertTrue(any(vector_ranks(found.json()["results"])), found)
        self.assertEqual(meta_model(data), "openai:it-model-a:64", read_meta(data))
        self.assertEqual(meta_count(data), chunks, read_meta(data))

        # Re-ingesting the unchanged files under model B embeds them again with B, instead of
        # skipping them as unchanged and leaving them out of vector search.
        files = len(os.listdir(corpus))
        before = mock.stats()["requests"]["embeddings"]
        again = self.ingest_cli(data, [corpus], env_b)
        self.assertIn("0 created, %d replaced, 0 unchanged" % files, again.stdout, again)
        self.assertGreater(mock.stats()["requests"]["embeddings"], before)
        checked = run_cli("check", "--data", data, env=env_b, timeout=scaled(30))
        self.assertEqual(checked.returncode, 0, checked)
        self.assertEqual(meta_model(data), "openai:it-model-b:64", read_meta(data))
        self.assertEqual(meta_count(data), chunks + created["chunks"], read_meta(data))
        # And once current, a re-ingest is a no-op again.
        same = self.ingest_cli(data, [corpus], env_b)
        self.assertIn("%d unchanged" % files, same.stdout, same)


if __name__ == "__main__":
    unittest.main(verbosity=2)
