#!/usr/bin/env python3
# A fleet of `ragd serve` replicas on one PostgreSQL (storage.backend = postgres): a document
# written through any replica (or `ragd ingest`) becomes searchable on every replica once it
# follows the change log; deletes too; concurrent writers through several replicas converge to
# the same indexes; a replica started later builds its indexes from the database; a data
# directory pointed at another database starts its indexes over; PostgreSQL going away makes
# /ready fail and the replica recovers when it is back.
import json
import os
import shutil
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ragd_harness import (Postgres, RagdServer, postgres_bindir, run_cli, scaled,  # noqa: E402
                          wait_for)

FOLLOW_MS = 100


def fleet_env(pg, dbname="postgres"):
    return {"RAGD_STORAGE_BACKEND": "postgres",
            "RAGD_STORAGE_POSTGRES_URL": pg.url(dbname),
            "RAGD_STORAGE_FOLLOW_INTERVAL_MS": str(FOLLOW_MS)}


def search_ids(server, word):
    # BM25 alone: a vector search returns the nearest chunks whatever the words, so only BM25
    # says whether a word is indexed.
    resp = server.post("/v1/search", {"query": word, "top_k": 5, "mode": "bm25"})
    if resp.status != 200:
        raise AssertionError("search %r -> %r" % (word, resp))
    return [hit["document_id"] for hit in resp.body["results"]]


def finds(server, word, doc_id):
    return doc_id in search_ids(server, word)


class FleetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if postgres_bindir() is None:
            raise unittest.SkipTest("PostgreSQL server binaries are not installed")
        cls.pg = Postgres().start()

    @classmethod
    def tearDownClass(cls):
        cls.pg.cleanup()

    def setUp(self):
        # A fresh database per test: replicas of one test share it, tests do not.
        self.db = "fleet_%s" % self._testMethodName.lower()
        self.pg.psql("DROP DATABASE IF EXISTS %s" % self.db)
        self.pg.psql("CREATE DATABASE %s" % self.db)

    def replica(self, dbname=None, data_dir=None):
        server = RagdServer(env=fleet_env(self.pg, dbname or self.db), data_dir=data_dir,
                            threads=1)
        server.start()
        self.addCleanup(self.stop, server)
        return server

    def stop(self, server):
        code = server.stop()
        self.assertEqual(code, 0, server.stderr())

    def test_writes_through_one_replica_reach_the_others(self):
        a, b = self.replica(), self.replica()
        # A fresh data directory has no indexes to start over: nothing to say about it.
        self.assertNotIn("another database", a.stderr() + b.stderr())
        doc = a.ingest(id="glacier", text="The xylofjord glacier calves icebergs every spring.")
        self.assertEqual(doc["status"], "created")
        self.assertTrue(finds(a, "xylofjord", "glacier"))  # the writer: at once
        wait_for(lambda: finds(b, "xylofjord", "glacier"), scaled(10), "replica b to follow")
        self.assertEqual(b.request("GET", "/v1/documents/glacier").status, 200)

        # A replacement: the old words go, the new ones come, on the other replica too.
        a.ingest(id="glacier", text="The quemblor glacier retreated forty metres.")
        wait_for(lambda: finds(b, "quemblor", "glacier"), scaled(10), "b to see the new text")
        self.assertFalse(finds(b, "xylofjord", "glacier"))

        # A delete through b disappears from a.
        self.assertEqual(b.request("DELETE", "/v1/documents/glacier").status, 200)
        wait_for(lambda: not finds(a, "quemblor", "glacier"), scaled(10), "a to drop it")
        self.assertEqual(a.request("GET", "/v1/documents/glacier").status, 404)

        ready = b.wait_ready(timeout=scaled(10))
        self.assertEqual(ready.status, 200, ready.body)
        indexes = ready.body["checks"]["indexes"]
        self.assertEqual(indexes["status"], "ok", indexes)
        self.assertEqual(indexes["following"]["interval_ms"], FOLLOW_MS)

    def test_concurrent_writers_converge(self):
        replicas = [self.replica(), self.replica()]
        per_writer = 15
        errors = []

        def write(index, server):
            try:
                for n in range(per_writer):
                    doc_id = "w%d-%d" % (index, n)
                    server.ingest(id=doc_id, text="Marker zorbit%dq%d lives in %s." %
                                  (index, n, doc_id))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=write, args=(i, r)) for i, r in enumerate(replicas)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        last_seq = int(self.pg.psql("SELECT max(seq) FROM ragd_changes", self.db))
        self.assertEqual(last_seq, 2 * per_writer)

        def caught_up(server):
            body = server.request("GET", "/ready").body
            return body["checks"]["indexes"].get("applied_seq") == last_seq

        for server in replicas:
            wait_for(lambda: caught_up(server), scaled(15), "every change applied")
            for index in range(len(replicas)):
                for n in range(per_writer):
                    self.assertEqual(search_ids(server, "zorbit%dq%d" % (index, n))[:1],
                                     ["w%d-%d" % (index, n)])

        # A replica started now, with no indexes of its own, builds them from the database.
        late = self.replica()
        self.assertEqual(search_ids(late, "zorbit1q7")[:1], ["w1-7"])
        stats = late.request("GET", "/ready").body["checks"]["indexes"]
        self.assertEqual(stats["bm25_chunks"], 2 * per_writer)

    def test_cli_ingest_into_the_shared_database(self):
        # Enough files for the bulk ingest's several writers (one per spare pool connection)
        # and for an index catch-up in the middle of it.
        a = self.replica()
        folder = os.path.join(self.pg.root, "docs-" + self.db)
        os.makedirs(folder, exist_ok=True)
        files = 300
        for n in range(files):
            with open(os.path.join(folder, "note%03d.md" % n), "w") as f:
                f.write("# Field note %d\n\nThe plimbrook%dq marsh floods in March.\n" % (n, n))
        data = os.path.join(self.pg.root, "cli-data-" + self.db)
        env = dict(fleet_env(self.pg, self.db), RAGD_STORAGE_POSTGRES_CONNECTIONS="4")
        result = run_cli("ingest", "--data", data, folder, env=env)
        self.assertEqual(result.returncode, 0, result)
        self.assertIn("ingested %d files (%d created" % (files, files), result.stdout)
        # One change per file: nothing written twice, nothing lost.
        self.assertEqual(self.pg.psql("SELECT count(*), max(seq) FROM ragd_changes",
                                      dbname=self.db).strip(), "%d|%d" % (files, files))
        wait_for(lambda: search_ids(a, "plimbrook299q"), scaled(10), "the replica to follow")
        for n in (0, 150, 299):
            resp = a.post("/v1/search", {"query": "plimbrook%dq" % n, "top_k": 1, "mode": "bm25"})
            self.assertTrue(resp.body["results"][0]["source"].endswith("note%03d.md" % n), resp)
        wait_for(lambda: a.request("GET", "/ready").body["checks"]["indexes"]["bm25_chunks"]
                 == files, scaled(10), "every file on the replica")
        # The CLI's own indexes, caught up at the end of the ingest, hold every file too.
        stats = run_cli("stats", "--data", data, env=env)
        self.assertEqual(stats.returncode, 0, stats)
        counts = json.loads(stats.stdout)
        self.assertEqual((counts["documents"], counts["vectors"], counts["bm25_chunks"],
                          counts["bm25_applied_seq"]), (files, files, files, files))

    def test_data_dir_moved_to_another_database_starts_over(self):
        other = self.db + "_other"
        self.pg.psql("DROP DATABASE IF EXISTS %s" % other)
        self.pg.psql("CREATE DATABASE %s" % other)
        data_dir = tempfile.mkdtemp(prefix="ragd-it-fleet-")
        self.addCleanup(shutil.rmtree, data_dir, True)
        first = RagdServer(env=fleet_env(self.pg, self.db), data_dir=data_dir, threads=1)
        first.start()
        first.ingest(id="old", text="The snorvel valley belongs to the first database.")
        self.stop(first)
        # Same data directory, another database: its indexes must not answer from the old one.
        moved = self.replica(dbname=other, data_dir=data_dir)
        self.assertIn("built from another database", moved.stderr())
        self.assertEqual(search_ids(moved, "snorvel"), [])

    def test_scratch_eval_never_writes_to_the_shared_database(self):
        beir = tempfile.mkdtemp(prefix="ragd-it-beir-")
        self.addCleanup(shutil.rmtree, beir, True)
        os.makedirs(os.path.join(beir, "qrels"))
        with open(os.path.join(beir, "corpus.jsonl"), "w") as f:
            f.write('{"_id": "d1", "title": "Tides", "text": "Tides follow the moon."}\n'
                    '{"_id": "d2", "title": "Bread", "text": "Sourdough needs a starter."}\n')
        with open(os.path.join(beir, "queries.jsonl"), "w") as f:
            f.write('{"_id": "q1", "text": "what do tides follow"}\n')
        with open(os.path.join(beir, "qrels", "test.tsv"), "w") as f:
            f.write("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
        result = run_cli("eval", beir, env=fleet_env(self.pg, self.db))
        self.assertEqual(result.returncode, 0, result)
        self.assertIn("nDCG@10", result.stdout + result.stderr)
        self.assertEqual(self.pg.psql("SELECT count(*) FROM pg_tables WHERE tablename LIKE "
                                      "'ragd_%'", self.db), "0")

    def test_postgres_down_then_back(self):
        a = self.replica()
        a.ingest(id="before", text="The wobbledyne tide came in before the outage.")
        self.pg.stop()
        try:
            resp = wait_for(lambda: (lambda r: r if r.status == 503 else None)(
                a.request("GET", "/ready")), scaled(10), "/ready to fail")
            self.assertEqual(resp.body["checks"]["storage"]["status"], "failing", resp.body)
            # Searching needs no database for the indexes; the passages may come from memory.
            self.assertIn(a.post("/v1/documents", {"id": "x", "text": "y"}).status, (500, 503))
        finally:
            self.pg.start()
        wait_for(lambda: a.request("GET", "/ready").status == 200, scaled(15), "/ready again")
        a.ingest(id="after", text="The wobbledyne tide went out after the outage.")
        self.assertEqual(sorted(search_ids(a, "wobbledyne")), ["after", "before"])


if __name__ == "__main__":
    unittest.main()
