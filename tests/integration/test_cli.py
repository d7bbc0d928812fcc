#!/usr/bin/env python3
# Black-box tests of ragd's command line: folder ingest (skips, failures, exit codes), upsert
# statuses, query/search/stats/delete output, the data-dir lock, and config precedence.
import hashlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pdf_fixture import ENCRYPTED_TRAILER, make_pdf  # noqa: E402
from ragd_harness import DATA_DIR, RagdServer, run_cli  # noqa: E402

CORPUS = os.path.join(DATA_DIR, "corpus")
LINE_RE = re.compile(r"^(created|replaced|unchanged)\s+([0-9a-f]{16})  (.+)  \((\d+) chunks\)$")
GOOD_FILES = ["lighthouse.md", "sourdough.txt", "guides/volcano.html", "guides/orchids.markdown"]


def doc_id_for(path):
    return hashlib.sha256(os.path.realpath(path).encode()).hexdigest()[:16]


def parse_ingest(stdout):
    """{abs path: (status, id, chunks)} from `ragd ingest` output, plus the summary line."""
    files = {}
    summary = None
    for line in stdout.splitlines():
        m = LINE_RE.match(line)
        if m:
            files[m.group(3)] = (m.group(1), m.group(2), int(m.group(4)))
        elif line.startswith("ingested "):
            summary = line
    return files, summary


def parse_print_config(text):
    """`[section]` / `key = value  # help` lines -> {"section.key": "value"}."""
    values = {}
    section = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif "=" in line and section:
            key, _, rest = line.partition("=")
            value = rest.split("  #", 1)[0].strip()
            values[section + "." + key.strip()] = value
    return values


class CliTestBase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ragd-cli-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.corpus = os.path.join(self.tmp, "corpus")
        shutil.copytree(CORPUS, self.corpus, symlinks=True)
        self.data = os.path.join(self.tmp, "data")

    def cli(self, *args, env=None):
        return run_cli(*args, env=env)

    def path(self, rel):
        return os.path.realpath(os.path.join(self.corpus, rel))

    def stats(self):
        res = self.cli("stats", "--data", self.data)
        self.assertEqual(res.returncode, 0, res)
        lines = res.stdout.strip().splitlines()
        self.assertEqual(len(lines), 1, res)
        return json.loads(lines[0])

    def assertConsistent(self, stats):
        self.assertEqual(stats["chunks"], stats["vectors"], stats)
        self.assertEqual(stats["chunks"], stats["bm25_chunks"], stats)
        self.assertEqual(stats["chunks"], stats["embeddings"], stats)
        self.assertEqual(stats["vectors_applied_seq"], stats["storage_seq"], stats)
        self.assertEqual(stats["bm25_applied_seq"], stats["storage_seq"], stats)


class IngestTest(CliTestBase):
    def test_folder_ingest_skips_and_reports(self):
        res = self.cli("ingest", "--data", self.data, self.corpus)
        self.assertEqual(res.returncode, 2, res)  # broken.txt failed, the rest went in
        files, summary = parse_ingest(res.stdout)
        self.assertEqual(sorted(files), sorted(self.path(f) for f in GOOD_FILES), res)
        for rel in GOOD_FILES:
            status, doc_id, chunks = files[self.path(rel)]
            self.assertEqual(status, "created", rel)
            self.assertEqual(doc_id, doc_id_for(self.path(rel)), rel)
            self.assertGreaterEqual(chunks, 1, rel)
        self.assertIsNotNone(summary, res)
        self.assertIn("4 created", summary)
        self.assertIn("1 failed", summary)
        # The NUL-byte file is named with its reason; skipped files are not mentioned at all.
        broken = [l for l in res.stderr.splitlines() if l.startswith("error: ")]
        self.assertEqual(len(broken), 1, res)
        self.assertIn("broken.txt: ", broken[0])
        self.assertIn("NUL", broken[0])
        for skipped in ("notes.bin", "secret.md", ".hidden"):
            self.assertNotIn(skipped, res.stdout + res.stderr)

        stats = self.stats()
        self.assertEqual(stats["documents"], 4)
        self.assertEqual(stats["chunks"], sum(c for _, _, c in files.values()))
        self.assertConsistent(stats)
        self.assertIsInstance(stats["embedder"], str)

        # Hidden files and <script> text never became searchable.
        for word in ("invisiblemarmoset", "scriptwordshouldnotappear"):
            res = self.cli("search", "--data", self.data, "--json", "--top-k", "20", word)
            self.assertEqual(res.returncode, 0, res)
            for r in res.json()["results"]:
                self.assertNotIn(word, r["text"].lower())

    def test_reingest_unchanged_then_replaced(self):
        os.remove(os.path.join(self.corpus, "broken.txt"))
        first = self.cli("ingest", "--data", self.data, self.corpus)
        self.assertEqual(first.returncode, 0, first)
        before, _ = parse_ingest(first.stdout)
        seq_before = self.stats()["storage_seq"]

        again = self.cli("ingest", "--data", self.data, self.corpus)
        self.assertEqual(again.returncode, 0, again)
        files, summary = parse_ingest(again.stdout)
        self.assertEqual(len(files), 4, again)
        for path, (status, doc_id, chunks) in files.items():
            self.assertEqual(status, "unchanged", path)
            self.assertEqual((doc_id, chunks), before[path][1:], path)
        self.assertIn("4 unchanged", summary)
        self.assertEqual(self.stats()["storage_seq"], seq_before, "unchanged files wrote")

        with open(os.path.join(self.corpus, "sourdough.txt"), "a") as f:
            f.write("\nRye flour makes a denser pumpernickelish loaf.\n")
        third = self.cli("ingest", "--data", self.data, self.corpus)
        self.assertEqual(third.returncode, 0, third)
        files, summary = parse_ingest(third.stdout)
        statuses = {p: s for p, (s, _, _) in files.items()}
        self.assertEqual(statuses.pop(self.path("sourdough.txt")), "replaced")
        self.assertEqual(set(statuses.values()), {"unchanged"})
        self.assertIn("1 replaced", summary)
        stats = self.stats()
        self.assertEqual(stats["documents"], 4)
        self.assertConsistent(stats)
        res = self.cli("search", "--data", self.data, "--json", "pumpernickelish")
        self.assertEqual(res.json()["results"][0]["source"], self.path("sourdough.txt"))

    def test_single_file_and_missing_paths(self):
        lighthouse = os.path.join(self.corpus, "lighthouse.md")
        missing = os.path.join(self.tmp, "no-such-file.md")
        res = self.cli("ingest", "--data", self.data, lighthouse, missing)
        self.assertEqual(res.returncode, 2, res)
        files, _ = parse_ingest(res.stdout)
        self.assertEqual(list(files), [self.path("lighthouse.md")])
        self.assertIn("error: %s: " % missing, res.stderr)
        self.assertIn("no such file", res.stderr)

    def test_unsupported_file_given_directly(self):
        res = self.cli("ingest", "--data", self.data, os.path.join(self.corpus, "notes.bin"))
        self.assertEqual(res.returncode, 2, res)
        self.assertIn("notes.bin: ", res.stderr)
        self.assertIn("unsupported", res.stderr)

    def test_broken_symlink_given_directly(self):
        link = os.path.join(self.tmp, "dangling.md")
        os.symlink(os.path.join(self.tmp, "nowhere.md"), link)
        res = self.cli("ingest", "--data", self.data, link)
        self.assertEqual(res.returncode, 2, res)
        self.assertIn("error: %s: " % link, res.stderr)

    def test_broken_symlink_inside_folder_is_reported(self):
        # A .md entry the walk finds but cannot read is a failure to report, not a silent skip.
        os.remove(os.path.join(self.corpus, "broken.txt"))
        link = os.path.join(self.corpus, "dangling.md")
        os.symlink(os.path.join(self.tmp, "nowhere.md"), link)
        res = self.cli("ingest", "--data", self.data, self.corpus)
        files, _ = parse_ingest(res.stdout)
        self.assertEqual(len(files), 4, res)  # the good files still went in
        self.assertIn("dangling.md: ", res.stderr, res)
        self.assertEqual(res.returncode, 2, res)

    def test_all_failed_is_exit_2_and_nothing_stored(self):
        res = self.cli("ingest", "--data", self.data, os.path.join(self.corpus, "broken.txt"))
        self.assertEqual(res.returncode, 2, res)
        self.assertEqual(self.stats()["documents"], 0)


class PdfIngestTest(CliTestBase):
    """PDFs in a folder: text ones are ingested and searchable; encrypted, damaged and
    image-only ones are each reported by path with the reason, and the rest goes on."""

    def write(self, name, data):
        path = os.path.join(self.tmp, "pdfs", name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        return os.path.realpath(path)

    def test_pdf_folder(self):
        good = self.write("Tides.PDF", make_pdf(
            [["Tidal Patterns", "",
              "The quokkatide rises twice a day along this coast, pulled by the moon and,",
              "to a lesser degree, by the sun; spring tides come when the two line up and",
              "neap tides when they pull at right angles, which the harbour master hyphen-",
              "ates in every almanac he prints."],
             ["Second page: the almanac lists the quokkatide times for every port."]],
            title="Harbour Almanac"))
        encrypted = self.write("locked.pdf", make_pdf([["Secret lines."]],
                                                      trailer_extra=ENCRYPTED_TRAILER))
        # Encrypted too, but with an empty user password: it only restricts changes, so any
        # reader opens it (the file's bytes do not contain its text in clear).
        restricted_pdf = make_pdf([["The restricted cormorant ledger lists nesting sites."]],
                                  title="Restricted Ledger", owner_password="harbour")
        self.assertNotIn(b"restricted cormorant", restricted_pdf)
        restricted = self.write("restricted.pdf", restricted_pdf)
        whole = make_pdf([["This file was cut off in the middle of its transfer."]])
        damaged = self.write("damaged.pdf", whole[:len(whole) // 3])
        scanned = self.write("scanned.pdf", make_pdf([[], []]))

        res = self.cli("ingest", "--data", self.data, os.path.join(self.tmp, "pdfs"))
        self.assertEqual(res.returncode, 2, res)  # three files failed, two went in
        files, summary = parse_ingest(res.stdout)
        self.assertEqual(sorted(files), sorted([good, restricted]), res)
        self.assertEqual(files[good][0], "created")
        self.assertIn("2 created", summary)
        self.assertIn("3 failed", summary)
        errors = [l for l in res.stderr.splitlines() if l.startswith("error: ")]
        self.assertEqual(len(errors), 3, res)
        reasons = {encrypted: "encrypted", damaged: "PDF", scanned: "no extractable text"}
        for path, reason in reasons.items():
            line = [l for l in errors if path in l]
            self.assertEqual(len(line), 1, (path, res))
            self.assertIn(reason, line[0])
        # poppler's own diagnostics are not printed beside ragd's report.
        self.assertNotIn("poppler", res.stderr.replace("poppler-cpp", ""))
        self.assertNotIn("Syntax Error", res.stderr)

        hits = self.cli("search", "--data", self.data, "--json", "quokkatide almanac").json()
        self.assertTrue(hits["results"], hits)
        top = hits["results"][0]
        self.assertEqual(top["source"], good)
        self.assertIn("hyphenates in every almanac", top["text"])  # lines rejoined
        self.assertIn("Second page", " ".join(r["text"] for r in hits["results"]))

        hits = self.cli("search", "--data", self.data, "--json",
                        "restricted cormorant ledger").json()
        self.assertEqual(hits["results"][0]["source"], restricted, hits)
        self.assertEqual(hits["results"][0]["title"], "Restricted Ledger", hits)

        doc = self.cli("query", "--data", self.data, "--json", "When do neap tides come?").json()
        self.assertIn(good, [s["source"] for s in doc["sources"]], doc)
        self.assertIn("Harbour Almanac", [s.get("title") for s in doc["sources"]], doc)


class QueryTest(CliTestBase):
    def setUp(self):
        super().setUp()
        os.remove(os.path.join(self.corpus, "broken.txt"))
        res = self.cli("ingest", "--data", self.data, self.corpus)
        self.assertEqual(res.returncode, 0, res)
        self.ingested, _ = parse_ingest(res.stdout)

    def test_query_prints_answer_and_sources(self):
        res = self.cli("query", "--data", self.data, "What lens did the lighthouse use?")
        self.assertEqual(res.returncode, 0, res)
        self.assertIn("(generator: extractive)", res.stdout)
        answer, _, sources = res.stdout.partition("Sources:")
        self.assertRegex(answer, r"\[\d+\]")
        self.assertIn("fresnel", answer.lower())
        self.assertRegex(sources, r"\[1\] .*lighthouse\.md")

    def test_query_json(self):
        res = self.cli("query", "--data", self.data, "--json", "--top-k", "2",
                       "stratovolcano eruption")
        self.assertEqual(res.returncode, 0, res)
        body = res.json()
        self.assertEqual(body["generator"], "extractive")
        self.assertLessEqual(len(body["sources"]), 2)
        self.assertEqual(body["sources"][0]["source"], self.path("guides/volcano.html"))
        self.assertEqual(body["sources"][0]["title"], "Volcano Field Guide")
        for n in re.findall(r"\[(\d+)\]", body["answer"]):
            self.assertLessEqual(int(n), len(body["sources"]))

    def test_search_json(self):
        res = self.cli("search", "--data", self.data, "--json", "--top-k", "3", "banneton")
        self.assertEqual(res.returncode, 0, res)
        body = json.loads(res.stdout)
        self.assertEqual(set(body), {"results", "timings_ms"})
        self.assertLessEqual(len(body["results"]), 3)
        top = body["results"][0]
        self.assertEqual(top["source"], self.path("sourdough.txt"))
        self.assertEqual(top["document_id"], doc_id_for(self.path("sourdough.txt")))
        res = self.cli("search", "--data", self.data, "phalaenopsis")
        self.assertEqual(res.returncode, 0, res)
        self.assertRegex(res.stdout.splitlines()[0], r"^\[1\] .*orchids\.markdown")

    def test_delete(self):
        before = self.stats()
        self.assertEqual(before["documents"], 4)
        victim = self.path("guides/orchids.markdown")
        _, doc_id, chunks = self.ingested[victim]
        res = self.cli("delete", "--data", self.data, doc_id)
        self.assertEqual(res.returncode, 0, res)
        self.assertIn(doc_id, res.stdout)
        after = self.stats()
        self.assertEqual(after["documents"], 3)
        self.assertEqual(after["chunks"], before["chunks"] - chunks)
        self.assertConsistent(after)
        res = self.cli("search", "--data", self.data, "--json", "--top-k", "20", "phalaenopsis")
        self.assertNotIn(doc_id, [r["document_id"] for r in res.json()["results"]])
        res = self.cli("delete", "--data", self.data, doc_id)
        self.assertEqual(res.returncode, 1, res)
        self.assertIn(doc_id, res.stderr)


class ServeTest(CliTestBase):
    def test_cli_and_server_share_data_and_lock(self):
        res = self.cli("ingest", "--data", self.data, os.path.join(self.corpus, "lighthouse.md"))
        self.assertEqual(res.returncode, 0, res)
        with RagdServer(data_dir=self.data) as server:
            resp = server.post("/v1/search", {"query": "diaphone fog horn"})
            self.assertEqual(resp.status, 200, resp)
            self.assertEqual(resp.body["results"][0]["source"], self.path("lighthouse.md"))
            for args in (("stats",), ("ingest", self.corpus), ("query", "fog")):
                res = self.cli(args[0], "--data", self.data, *args[1:])
                self.assertEqual(res.returncode, 1, res)
                self.assertIn("in use by another ragd process", res.stderr)
            second = RagdServer(data_dir=self.data)
            with self.assertRaisesRegex(RuntimeError, "in use by another ragd process"):
                second.start()
        # The lock goes with the process: the CLI works again.
        self.assertEqual(self.stats()["documents"], 1)

    def test_sigint_stops_cleanly(self):
        server = RagdServer(data_dir=self.data)
        server.start()
        self.assertEqual(server.request("GET", "/health").status, 200)
        self.assertEqual(server.stop(signal.SIGINT), 0, server.stderr())

    def test_bad_listen_address(self):
        res = run_cli("serve", "--data", self.data, "--listen", "256.1.1.1:80", timeout=20)
        self.assertNotEqual(res.returncode, 0, res)
        self.assertNotIn("listening on", res.stdout)


class ConfigTest(unittest.TestCase):
    toml = os.path.join(DATA_DIR, "precedence.toml")

    def print_config(self, *args, env=None):
        res = run_cli("serve", "--print-config", *args, env=env)
        self.assertEqual(res.returncode, 0, res)
        values = parse_print_config(res.stdout)
        self.assertIn("server.threads", values, res)
        return values

    def test_defaults(self):
        values = self.print_config()
        self.assertEqual(values["server.listen"], '"127.0.0.1:8080"')
        self.assertEqual(values["retrieval.top_k"], "5")
        self.assertEqual(values["server.max_header_bytes"], str(16 * 1024))

    def test_file_then_env_then_flag(self):
        env = {"RAGD_SERVER_THREADS": "5", "RAGD_SERVER_LISTEN": "127.0.0.1:9002",
               "RAGD_RETRIEVAL_CANDIDATES": "55", "RAGD_RETRIEVAL_TOP_K": "8"}
        values = self.print_config("--config", self.toml, "--threads", "7",
                                   "--set", "retrieval.top_k=9", env=env)
        self.assertEqual(values["server.threads"], "7")                 # flag > env > file
        self.assertEqual(values["server.listen"], '"127.0.0.1:9002"')   # env > file
        self.assertEqual(values["server.max_header_bytes"], "20000")    # file only
        self.assertEqual(values["retrieval.candidates"], "55")          # env only
        self.assertEqual(values["retrieval.top_k"], "9")                # --set > env > file

        values = self.print_config("--config", self.toml, env=env)
        self.assertEqual(values["server.threads"], "5")
        self.assertEqual(values["retrieval.top_k"], "8")
        values = self.print_config("--config", self.toml)
        self.assertEqual(values["server.threads"], "3")
        self.assertEqual(values["server.listen"], '"127.0.0.1:9001"')
        self.assertEqual(values["retrieval.top_k"], "7")
        values = self.print_config("--config", self.toml, "--listen", "127.0.0.1:9003",
                                   "--data", "/tmp/somewhere", env=env)
        self.assertEqual(values["server.listen"], '"127.0.0.1:9003"')
        self.assertEqual(values["storage.data_dir"], '"/tmp/somewhere"')

    def test_bad_values_name_the_key(self):
        bad_toml = os.path.join(DATA_DIR, "bad_value.toml")
        cases = [
            (("--config", bad_toml), None, "server.threads"),
            ((), {"RAGD_SERVER_THREADS": "abc"}, "server.threads"),
            ((), {"RAGD_SERVER_THREADS": "abc"}, "RAGD_SERVER_THREADS"),
            (("--set", "ingest.chunk_overlap=0.9"), None, "ingest.chunk_overlap"),
            (("--set", "server.no_such_key=1"), None, "server.no_such_key"),
            (("--set", "retrieval.top_k=0"), None, "retrieval.top_k"),
            (("--set", "llm.provider=gpt"), None, "llm.provider"),
            (("--set", "server.threads"), None, "server.threads"),
        ]
        for args, env, needle in cases:
            with self.subTest(args=args, env=env):
                res = run_cli("serve", "--print-config", *args, env=env)
                self.assertNotEqual(res.returncode, 0, res)
                self.assertIn(needle, res.stderr, res)
                self.assertNotIn("listening on", res.stdout)

    def test_bad_value_also_stops_real_commands(self):
        with tempfile.TemporaryDirectory() as tmp:
            res = run_cli("stats", "--data", tmp, env={"RAGD_INGEST_CHUNK_TOKENS": "4"})
            self.assertEqual(res.returncode, 1, res)
            self.assertIn("ingest.chunk_tokens", res.stderr)

    def test_multiple_problems_reported_at_once(self):
        res = run_cli("serve", "--print-config", "--set", "embed.dimensions=1",
                      "--set", "log.level=loud")
        self.assertNotEqual(res.returncode, 0, res)
        self.assertIn("embed.dimensions", res.stderr)
        self.assertIn("log.level", res.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
