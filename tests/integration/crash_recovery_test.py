#!/usr/bin/env python3
"""Crash-recovery test for the real ragd binary: SIGKILL `ragd ingest` at random instants over a
generated Markdown corpus, then check that storage is consistent and that every committed
document is searchable WITHOUT re-ingesting (opening the engine alone must catch indexes up).

Also corrupts and deletes the derived indexes and checks they are rebuilt with the same counts.
Python 3 stdlib only. Environment: RAGD_BIN (required), RAGD_CRASH_SEED (optional),
RAGD_CRASH_KEEP=1 keeps the temp dir, RAGD_CRASH_ROUNDS / RAGD_CRASH_FILES override the size,
RAGD_CRASH_DEFAULT_INDEX=1 keeps the default HNSW parameters (by default the test sets
retrieval.hnsw_m=8, hnsw_ef_construction=48 to make the rebuilds it forces cheaper).
"""

import hashlib
import http.client
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

SOFT_BUDGET_S = 110.0  # the test shrinks its search samples to stay under this
HARD_BUDGET_S = 400.0  # beyond this, fail: something is pathologically slow
CLI_SAMPLE = 8     # `ragd search` process starts per round (~0.3 s each)
HTTP_SAMPLE = 150  # searches per round through one `ragd serve` (~ms each)
CALIBRATION_SHARE = 10  # calibrate on every 10th file, then extrapolate
# `ragd ingest` prints `created|replaced|unchanged <id>  <abs path>  (N chunks)` per file.
WRITTEN_LINE = re.compile(r"(?:created|replaced)\s+([0-9a-f]{16})\s+(\S.*?)\s+\(\d+ chunks\)$")

T0 = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - T0:7.2f}s] {msg}", flush=True)


class CheckFailed(Exception):
    pass


# ---------------------------------------------------------------- corpus generation


class Corpus:
    """The Markdown files on disk and what we know about each one's versions."""

    def __init__(self, root, rng, n_files):
        self.root = root
        self.rng = rng
        letters = "abcdefghijklmnoprstuvwy"  # no 'z': markers start with z and stay unique
        vocab = set()
        while len(vocab) < 3000:
            vocab.add("".join(rng.choice(letters) for _ in range(rng.randint(3, 9))))
        self.vocab = sorted(vocab)
        self.used_markers = set()
        self.files = {}  # abs path -> {"marker": str, "version": str, "hashes": set()}
        self.next_index = 0
        for _ in range(n_files):
            self.add_file()

    def new_marker(self, prefix):
        while True:
            m = prefix + "%010x" % self.rng.getrandbits(40)
            if m not in self.used_markers:
                self.used_markers.add(m)
                return m

    def words(self, n):
        return " ".join(self.rng.choice(self.vocab) for _ in range(n))

    def render(self, index, marker, version):
        rng = self.rng
        target = rng.randint(1024, 6 * 1024)
        parts = [f"# Document {index} {self.words(3)}\n\n",
                 f"Identifier {marker} revision {version}. {self.words(rng.randint(10, 30))}.\n\n"]
        size = sum(len(p) for p in parts)
        section = 0
        while size < target:
            section += 1
            level = "##" if rng.random() < 0.7 else "###"
            block = [f"{level} Section {section} {self.words(2)}\n\n"]
            for _ in range(rng.randint(1, 3)):
                if rng.random() < 0.15:
                    block.append("".join(f"- {self.words(rng.randint(3, 8))}\n"
                                         for _ in range(rng.randint(2, 5))) + "\n")
                else:
                    block.append(self.words(rng.randint(20, 90)) + ".\n\n")
            text = "".join(block)
            parts.append(text)
            size += len(text)
        return "".join(parts)

    def write(self, path, index, marker):
        version = self.new_marker("zv")
        content = self.render(index, marker, version).encode()
        with open(path, "wb") as f:
            f.write(content)
        entry = self.files.setdefault(path, {"marker": marker, "hashes": set(), "index": index})
        entry["version"] = version
        entry["hashes"].add(hashlib.sha256(content).hexdigest())

    def add_file(self):
        index = self.next_index
        self.next_index += 1
        sub = os.path.join(self.root, "d%02d" % (index % 30))
        os.makedirs(sub, exist_ok=True)
        path = os.path.join(sub, "doc%05d.md" % index)
        self.write(path, index, self.new_marker("zq"))
        return path

    def modify(self, path):
        entry = self.files[path]
        self.write(path, entry["index"], entry["marker"])

    def remove(self, path):
        os.remove(path)
        del self.files[path]


def file_sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def doc_id_for(path):
    return hashlib.sha256(path.encode()).hexdigest()[:16]


# ---------------------------------------------------------------- running ragd


# The BM25 backend under test: set from the seed (or RAGD_CRASH_BM25_BACKEND) before any Ragd
# is made, so that successive CI runs cover both.
BM25_BACKEND = ["memory"]


class Ragd:
    def __init__(self, binary, data_dir, work_dir):
        self.binary = binary
        self.data = data_dir
        self.work = work_dir
        self.env = dict(os.environ)
        for key in list(self.env):
            if key.startswith("RAGD_") and key != "RAGD_BIN":
                del self.env[key]  # a stray RAGD_STORAGE_DATA_DIR etc. must not leak in
        if os.environ.get("RAGD_CRASH_DEFAULT_INDEX") != "1":
            # A cheaper HNSW graph (same code paths) halves the index rebuilds this test forces.
            self.env["RAGD_RETRIEVAL_HNSW_M"] = "8"
            self.env["RAGD_RETRIEVAL_HNSW_EF_CONSTRUCTION"] = "48"
        self.env["RAGD_RETRIEVAL_BM25_BACKEND"] = BM25_BACKEND[0]
        self.searches = 0

    def run(self, *args, timeout=120, check=True):
        cmd = [self.binary, *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=self.env)
        if check and proc.returncode != 0:
            raise CheckFailed(f"{' '.join(cmd)} exited {proc.returncode}\n"
                              f"stdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-2000:]}")
        return proc

    def stats(self):
        proc = self.run("stats", "--data", self.data)
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        if len(lines) != 1:
            raise CheckFailed(f"ragd stats printed {len(lines)} lines, expected 1: {proc.stdout!r}")
        return json.loads(lines[0]), proc.stderr

    def check(self, label, after_catch_up):
        """`ragd check --json` (which opens the indexes as found, without catching them up):
        before any catch-up, storage must be intact and an index may only lag, never hold ids
        at its own sequence that storage does not; after catch-up, all must be consistent.
        Returns (problems, report)."""
        proc = self.run("check", "--data", self.data, "--json", check=False)
        if proc.returncode not in (0, 1):
            return [f"{label}: ragd check exited {proc.returncode}: {proc.stderr[-2000:]}"], None
        report = json.loads(proc.stdout)
        problems = []
        if after_catch_up:
            if proc.returncode != 0 or not report["consistent"]:
                problems.append(f"{label}: ragd check after catch-up exited {proc.returncode}: "
                                f"{proc.stdout[:2000]}")
            return problems, report
        for part in ("storage", "embeddings"):
            if not report[part]["consistent"]:
                problems.append(f"{label}: ragd check: {part} inconsistent: {report[part]}")
        for name, index in (report["indexes"] or {}).items():
            if index["lag"] < 0 or (index["lag"] == 0 and not index["consistent"]):
                problems.append(f"{label}: ragd check: {name} index disagrees with storage at "
                                f"its own sequence: {index}")
        return problems, report

    def search(self, text, top_k=5):
        self.searches += 1
        proc = self.run("search", "--data", self.data, "--json", "--top-k", str(top_k), text)
        return json.loads(proc.stdout)["results"]

    def start_ingest(self, corpus_root, log_name):
        out = open(os.path.join(self.work, log_name), "w")
        proc = subprocess.Popen([self.binary, "ingest", "--data", self.data, corpus_root],
                                stdout=out, stderr=subprocess.STDOUT, env=self.env)
        out.close()
        return proc


# ---------------------------------------------------------------- checks


def read_storage(data_dir):
    """Snapshot of the system of record, read directly (no ragd process is running)."""
    db = sqlite3.connect(os.path.join(data_dir, "ragd.sqlite"), timeout=10)
    try:
        docs = {row[0]: {"source": row[1], "hash": row[2]}
                for row in db.execute("SELECT id, source, content_hash FROM documents")}
        problems = []
        dup = db.execute("SELECT document_id, ordinal, count(*) FROM chunks "
                         "GROUP BY document_id, ordinal HAVING count(*) > 1 LIMIT 5").fetchall()
        if dup:
            problems.append(f"duplicated (document_id, ordinal) chunks: {dup}")
        orphans = db.execute("SELECT id, document_id FROM chunks WHERE document_id NOT IN "
                             "(SELECT id FROM documents) LIMIT 5").fetchall()
        if orphans:
            problems.append(f"chunks whose document does not exist: {orphans}")
        no_vec = db.execute("SELECT c.id, c.document_id FROM chunks c LEFT JOIN embeddings e "
                            "ON e.chunk_id = c.id WHERE e.chunk_id IS NULL LIMIT 5").fetchall()
        if no_vec:
            problems.append(f"chunks without an embedding: {no_vec}")
        orphan_vec = db.execute("SELECT chunk_id FROM embeddings WHERE chunk_id NOT IN "
                                "(SELECT id FROM chunks) LIMIT 5").fetchall()
        if orphan_vec:
            problems.append(f"embeddings whose chunk does not exist: {orphan_vec}")
        gaps = db.execute("SELECT document_id, count(*), min(ordinal), max(ordinal) FROM chunks "
                          "GROUP BY document_id HAVING min(ordinal) != 0 OR "
                          "max(ordinal) != count(*) - 1 LIMIT 5").fetchall()
        if gaps:
            problems.append(f"chunk ordinals not 0..n-1: {gaps}")
        empty = db.execute("SELECT id FROM documents WHERE id NOT IN "
                           "(SELECT document_id FROM chunks) LIMIT 5").fetchall()
        if empty:
            problems.append(f"documents without chunks: {empty}")
        texts = {}
        for doc_id, text in db.execute("SELECT document_id, text FROM chunks "
                                       "ORDER BY document_id, ordinal"):
            texts.setdefault(doc_id, []).append(text)
        for doc_id, entry in docs.items():
            entry["text"] = "\n".join(texts.get(doc_id, []))
        counts = {
            "documents": len(docs),
            "chunks": db.execute("SELECT count(*) FROM chunks").fetchone()[0],
            "embeddings": db.execute("SELECT count(*) FROM embeddings").fetchone()[0],
            "seq": db.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()[0],
        }
        return docs, counts, problems
    finally:
        db.close()


def check_stats(stats, counts, label):
    problems = []
    if not (stats["chunks"] == stats["vectors"] == stats["bm25_chunks"]):
        problems.append(f"{label}: chunks {stats['chunks']} / vectors {stats['vectors']} / "
                        f"bm25_chunks {stats['bm25_chunks']} differ")
    if stats["embeddings"] != stats["chunks"]:
        problems.append(f"{label}: embeddings {stats['embeddings']} != chunks {stats['chunks']}")
    if not (stats["vectors_applied_seq"] == stats["bm25_applied_seq"] == stats["storage_seq"]):
        problems.append(f"{label}: vectors_applied_seq {stats['vectors_applied_seq']} / "
                        f"bm25_applied_seq {stats['bm25_applied_seq']} / storage_seq "
                        f"{stats['storage_seq']} differ")
    for key, ours in (("documents", "documents"), ("chunks", "chunks"),
                      ("storage_seq", "seq")):
        if stats[key] != counts[ours]:
            problems.append(f"{label}: stats {key}={stats[key]} but SQLite says {counts[ours]}")
    return problems


def check_documents(docs, corpus, deleted_ids):
    """Content checks of every stored document against the corpus files."""
    problems = []
    for doc_id, doc in docs.items():
        if doc_id != doc_id_for(doc["source"]):
            problems.append(f"document {doc_id}: id is not sha256(source)[:16] for {doc['source']}")
        path = doc["source"]
        if doc_id in deleted_ids:
            problems.append(f"document {doc_id} ({path}) was deleted but is still stored")
            continue
        entry = corpus.files.get(path)
        if entry is None:
            problems.append(f"document {doc_id}: source {path} is not a corpus file")
            continue
        if doc["hash"] not in entry["hashes"]:
            problems.append(f"document {doc_id}: content_hash matches no version ever written "
                            f"to {path}")
        if entry["marker"] not in doc["text"]:
            problems.append(f"document {doc_id}: chunks lack its marker {entry['marker']}")
        if doc["hash"] == file_sha256(path) and entry["version"] not in doc["text"]:
            problems.append(f"document {doc_id}: stored hash is the file's current hash but the "
                            f"chunks lack the current version marker {entry['version']}")
    return problems


def check_search_results(doc_id, marker, results):
    if not results:
        return f"search {marker}: no results, expected document {doc_id} first"
    first = results[0]["document_id"]
    if first != doc_id:
        return (f"search {marker}: first result is {first}, expected {doc_id} "
                f"(got {[r['document_id'] for r in results]})")
    return None


# ---------------------------------------------------------------- the test


class Test:
    def __init__(self):
        binary = os.environ.get("RAGD_BIN")
        if not binary or not os.access(binary, os.X_OK):
            sys.exit(f"RAGD_BIN must name the ragd binary (got {binary!r})")
        self.seed = int(os.environ.get("RAGD_CRASH_SEED", str(int(time.time() * 1000) % 10**9)))
        self.rounds = int(os.environ.get("RAGD_CRASH_ROUNDS", "6"))
        self.n_files = int(os.environ.get("RAGD_CRASH_FILES", "1500"))
        log(f"seed {self.seed} (rerun with RAGD_CRASH_SEED={self.seed}); rounds {self.rounds}, "
            f"files {self.n_files}")
        self.rng = random.Random(self.seed)
        BM25_BACKEND[0] = os.environ.get("RAGD_CRASH_BM25_BACKEND",
                                         "memory" if self.seed % 2 == 0 else "xapian")
        log(f"BM25 backend: {BM25_BACKEND[0]} (RAGD_CRASH_BM25_BACKEND picks one)")
        self.tmp = os.path.realpath(tempfile.mkdtemp(prefix="ragd-crash-"))
        self.corpus_root = os.path.join(self.tmp, "corpus")
        self.data = os.path.join(self.tmp, "data")
        self.ragd = Ragd(binary, self.data, self.tmp)
        self.deleted_ids = set()  # deleted and their files removed: must stay deleted
        self.kills = 0
        self.completed = 0

    def budget_left(self):
        return SOFT_BUDGET_S - (time.monotonic() - T0)

    def verify(self, label, cli_sample, http_sample):
        """ragd stats (opens the engine: catch-up), storage invariants, sampled searches through
        `ragd search` processes and through one `ragd serve`; `ragd check` before the catch-up
        (only lag allowed) and after it (consistent)."""
        before_problems, before = self.ragd.check(label, after_catch_up=False)
        stats, notes = self.ragd.stats()
        docs, counts, problems = read_storage(self.data)
        problems += before_problems
        problems += check_stats(stats, counts, label)
        problems += check_documents(docs, self.corpus, self.deleted_ids)
        ids = sorted(docs)
        self.rng.shuffle(ids)
        cli_ids = ids[:max(0, cli_sample)]
        for doc_id in cli_ids:
            marker = self.corpus.files[docs[doc_id]["source"]]["marker"]
            failure = check_search_results(doc_id, marker, self.ragd.search(marker))
            if failure:
                problems.append(f"{label}: `ragd search` {failure}")
        http_ids = ids[len(cli_ids):len(cli_ids) + max(0, http_sample)]
        if http_ids:
            problems += [f"{label}: {p}" for p in self.serve_check(docs, http_ids)]
        after_problems, _ = self.ragd.check(label, after_catch_up=True)
        problems += after_problems
        note = notes.strip().replace("\n", " | ")
        if before and before["indexes"]:
            lags = "/".join(str(index["lag"]) for index in before["indexes"].values())
            note += (" | " if note else "") + (f"check before catch-up: "
                                               f"{'consistent' if before['consistent'] else 'lag'}"
                                               f" (vectors/bm25 {lags})")
        log(f"{label}: docs {stats['documents']} chunks {stats['chunks']} vectors "
            f"{stats['vectors']} bm25 {stats['bm25_chunks']} seq {stats['storage_seq']}/"
            f"{stats['vectors_applied_seq']}/{stats['bm25_applied_seq']}; searched "
            f"{len(cli_ids)} via CLI, {len(http_ids)} via HTTP{'; ' + note if note else ''}")
        if problems:
            more = f"\n... and {len(problems) - 40} more" if len(problems) > 40 else ""
            raise CheckFailed("\n".join(problems[:40]) + more)
        return stats, docs

    def serve_check(self, docs, doc_ids):
        """Searches each document's marker (expecting it first) and every deleted document's
        marker (expecting it absent) through one `ragd serve`; returns the problems."""
        proc = subprocess.Popen([self.ragd.binary, "serve", "--data", self.data, "--listen",
                                 "127.0.0.1:0"], stdout=subprocess.PIPE,
                                stderr=open(os.path.join(self.tmp, "serve.log"), "a"),
                                text=True, env=self.ragd.env)
        problems = []
        try:
            line = proc.stdout.readline()
            match = re.match(r"listening on (\S+):(\d+)", line)
            if not match:
                raise CheckFailed(f"ragd serve did not print 'listening on': {line!r}; see "
                                  f"{self.tmp}/serve.log")
            conn = http.client.HTTPConnection(match.group(1), int(match.group(2)), timeout=30)

            def search(marker):
                body = json.dumps({"query": marker, "top_k": 5})
                conn.request("POST", "/v1/search", body, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                payload = resp.read()
                if resp.status != 200:
                    problems.append(f"POST /v1/search {marker}: HTTP {resp.status} "
                                    f"{payload[:200]!r}")
                    return None
                return json.loads(payload)["results"]

            for doc_id in doc_ids:
                marker = self.corpus.files[docs[doc_id]["source"]]["marker"]
                results = search(marker)
                failure = None if results is None else check_search_results(doc_id, marker, results)
                if failure:
                    problems.append("HTTP " + failure)
            for doc_id in sorted(self.deleted_ids):
                results = search(self.deleted_markers[doc_id])
                if results is not None and doc_id in [r["document_id"] for r in results]:
                    problems.append(f"deleted document {doc_id} still returned by a search for "
                                    f"{self.deleted_markers[doc_id]}")
            conn.close()
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                rc = "hung"
        if rc != 0:
            problems.append(f"ragd serve exited {rc} on SIGTERM")
        return problems

    def pending_fraction(self):
        docs, _, _ = read_storage(self.data) if os.path.exists(
            os.path.join(self.data, "ragd.sqlite")) else ({}, None, None)
        stored = {d["source"]: d["hash"] for d in docs.values()}
        pending = sum(1 for path in self.corpus.files if stored.get(path) != file_sha256(path))
        return pending / max(1, len(self.corpus.files))

    def killed_ingest(self, round_idx, full_seconds):
        fraction = self.pending_fraction()
        # Start-up and the unchanged-file scan cost a little even when nothing is pending.
        expected = 0.15 + full_seconds * max(fraction, 0.02)
        delay = self.rng.uniform(0.05, 0.95) * expected
        proc = self.ragd.start_ingest(self.corpus_root, f"ingest-{round_idx}.log")
        try:
            proc.wait(timeout=delay)
            self.completed += 1
            outcome = f"completed before the kill (exit {proc.returncode})"
            if proc.returncode != 0:
                raise CheckFailed(f"round {round_idx}: ingest exited {proc.returncode}; see "
                                  f"{self.tmp}/ingest-{round_idx}.log")
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            self.kills += 1
            outcome = "SIGKILLed"
        # Lines ragd printed (after each commit) before it died; stdout is block-buffered, so
        # this is a subset of what was committed, and a torn last line does not match.
        written = {}
        with open(os.path.join(self.tmp, f"ingest-{round_idx}.log")) as f:
            for line in f:
                match = WRITTEN_LINE.match(line.rstrip("\n"))
                if match:
                    written[match.group(1)] = match.group(2)
        log(f"round {round_idx}: {fraction:.0%} pending, expected {expected:.2f}s, "
            f"kill at {delay:.2f}s: {outcome}; {len(written)} documents reported written")
        return written

    def check_reported(self, label, written, docs):
        """Every document the killed ingest reported as written is stored with that content."""
        problems = []
        for doc_id, path in written.items():
            if doc_id not in docs:
                problems.append(f"{label}: ingest reported {doc_id} ({path}) written, but it is "
                                f"not in storage")
            elif docs[doc_id]["hash"] != file_sha256(path):
                problems.append(f"{label}: ingest reported {doc_id} ({path}) written, but storage "
                                f"holds another version")
        if problems:
            raise CheckFailed("\n".join(problems[:40]))

    def mutate(self, round_idx, docs):
        """Between rounds: modify files (replace paths get killed), add some, delete some."""
        paths = sorted(self.corpus.files)
        for path in self.rng.sample(paths, min(len(paths), self.rng.randint(80, 200))):
            self.corpus.modify(path)
        for _ in range(self.rng.randint(5, 20)):
            self.corpus.add_file()
        stored = sorted(docs)
        self.rng.shuffle(stored)
        for n, doc_id in enumerate(stored[:3]):
            path = docs[doc_id]["source"]
            self.ragd.run("delete", "--data", self.data, doc_id)
            if n < 2:  # file gone too: the document must stay deleted
                self.deleted_markers[doc_id] = self.corpus.files[path]["marker"]
                self.corpus.remove(path)
                self.deleted_ids.add(doc_id)
        log(f"round {round_idx}: modified/added/deleted files; {len(self.corpus.files)} in corpus")

    def final_search_all(self):
        """Every stored document found by its marker, through one `ragd serve`."""
        docs, _, _ = read_storage(self.data)
        problems = self.serve_check(docs, sorted(docs))
        log(f"searched all {len(docs)} stored documents and {len(self.deleted_ids)} deleted ones "
            f"over HTTP: {len(problems)} problems")
        if problems:
            raise CheckFailed("\n".join(problems[:40]))

    def expect_rebuilt(self, label, baseline, notes_pattern):
        """`ragd stats` after damage: the same counts as before, and (optionally) a note on
        stderr saying what was rebuilt."""
        stats, notes = self.ragd.stats()
        problems = []
        for key in ("documents", "chunks", "vectors", "bm25_chunks", "storage_seq",
                    "vectors_applied_seq", "bm25_applied_seq"):
            if stats[key] != baseline[key]:
                problems.append(f"{label}: {key} {stats[key]} after rebuild, "
                                f"{baseline[key]} before")
        if notes_pattern and not re.search(notes_pattern, notes):
            problems.append(f"{label}: expected a note matching {notes_pattern!r} on stderr, "
                            f"got {notes!r}")
        if problems:
            raise CheckFailed("\n".join(problems))
        log(f"{label}: counts unchanged ({notes.strip().replace(chr(10), ' | ')})")

    def scribble(self, path, offset, length):
        with open(path, "r+b") as f:
            f.seek(offset)
            f.write(bytes(self.rng.getrandbits(8) for _ in range(length)))

    def index_damage(self, baseline):
        """Corrupt, then delete, the derived indexes; each time they must come back from storage
        with the same counts, and searches must work."""
        bm25_dir = os.path.join(self.data, "bm25")  # the Xapian backend's tables
        bm25_snapshot = os.path.join(self.data, "bm25-memory.bin")  # the default backend's file
        hnsw = os.path.join(self.data, "vectors.hnsw")

        # 1. vectors.hnsw truncated, the BM25 index's file overwritten in part (the memory
        # backend's snapshot checksum, or Xapian's version file; both detected at open).
        with open(hnsw, "r+b") as f:
            f.truncate(os.path.getsize(hnsw) // 3)
        if os.path.exists(bm25_snapshot):
            target = bm25_snapshot
            self.scribble(target, os.path.getsize(target) // 2, 64)
        else:
            target = os.path.join(bm25_dir, "iamglass")
            if not os.path.exists(target):
                target = os.path.join(bm25_dir, sorted(os.listdir(bm25_dir))[0])
            self.scribble(target, 0, max(64, os.path.getsize(target)))
        self.expect_rebuilt(f"truncated vectors.hnsw, garbage {os.path.basename(target)}",
                            baseline, r"(?s)vector.*rebuil.*bm25.*rebuil")
        self.verify("after corruption", cli_sample=2, http_sample=HTTP_SAMPLE)

        # 2. indexes deleted outright, and the first rebuild killed half-way.
        for name in ("vectors.hnsw", "vectors.meta"):
            if os.path.exists(os.path.join(self.data, name)):
                os.remove(os.path.join(self.data, name))
        if os.path.exists(bm25_snapshot):
            os.remove(bm25_snapshot)
        else:
            shutil.rmtree(bm25_dir)
        proc = subprocess.Popen([self.ragd.binary, "stats", "--data", self.data],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=self.ragd.env)
        try:
            proc.wait(timeout=self.rng.uniform(0.3, 3.0))
            log("a `ragd stats` rebuilding the deleted indexes finished before the kill")
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            log("killed a `ragd stats` while it rebuilt the deleted indexes")
        self.expect_rebuilt("deleted indexes", baseline, None)
        self.verify("after deletion", cli_sample=2, http_sample=HTTP_SAMPLE)

        # 3. vectors.hnsw with flipped bytes (same size: only its checksum can tell).
        self.scribble(hnsw, os.path.getsize(hnsw) // 2, 4096)
        self.expect_rebuilt("garbage inside vectors.hnsw", baseline, r"vector")
        self.verify("after vector garbage", cli_sample=0, http_sample=50)

    def table_damage(self, baseline):
        """Garbage inside Xapian tables (not the version file). Xapian opens such a database and
        may fail only when a query reads the damaged block; ragd must still answer searches
        (detect it and rebuild, or at least degrade) rather than fail every query."""
        bm25_dir = os.path.join(self.data, "bm25")
        for name in ("postlist.glass", "docdata.glass"):
            path = os.path.join(bm25_dir, name)
            if not os.path.exists(path):
                log(f"bm25/{name} does not exist; skipped")
                continue
            size = os.path.getsize(path)
            if name == "postlist.glass":  # the middle half, block aligned
                start, length = size // 4 // 8192 * 8192, max(8192, size // 2)
            else:  # one whole block after the first
                start, length = (8192, 8192) if size >= 16384 else (0, size)
            self.scribble(path, start, length)
            self.expect_rebuilt(f"garbage at {start}+{length} in bm25/{name}", baseline, None)
            self.verify(f"after garbage in bm25/{name}", cli_sample=2, http_sample=HTTP_SAMPLE)

    def run(self):
        self.corpus = Corpus(os.path.join(self.tmp, "corpus"), self.rng, self.n_files)
        self.deleted_markers = {}
        total_bytes = sum(os.path.getsize(p) for p in self.corpus.files)
        log(f"generated {len(self.corpus.files)} files, {total_bytes / 1e6:.1f} MB in "
            f"{self.corpus_root}")

        # Calibrate: an uninterrupted ingest of every CALIBRATION_SHARE-th file into a scratch
        # data dir, extrapolated (indexing cost grows a little faster than linearly).
        calibrate = Ragd(self.ragd.binary, os.path.join(self.tmp, "calibrate"), self.tmp)
        subset = os.path.join(self.tmp, "calibrate-corpus")
        for n, path in enumerate(sorted(self.corpus.files)):
            if n % CALIBRATION_SHARE == 0:
                target = os.path.join(subset, os.path.relpath(path, self.corpus_root))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copyfile(path, target)
        started = time.monotonic()
        proc = calibrate.start_ingest(subset, "ingest-calibrate.log")
        if proc.wait(timeout=300) != 0:
            raise CheckFailed(f"calibration ingest exited {proc.returncode}; see "
                              f"{self.tmp}/ingest-calibrate.log")
        full_seconds = (time.monotonic() - started) * CALIBRATION_SHARE * 1.2
        shutil.rmtree(calibrate.data)
        shutil.rmtree(subset)
        log(f"calibration: a full ingest should take about {full_seconds:.1f}s")

        for round_idx in range(1, self.rounds + 1):
            written = self.killed_ingest(round_idx, full_seconds)
            # CLI searches are the slow part of a round; shrink them when behind schedule.
            rounds_left = self.rounds - round_idx + 1
            spare = self.budget_left() - 40 - rounds_left * 6  # final phases, ingests
            cli = CLI_SAMPLE if spare > 0 else 3
            _, docs = self.verify(f"round {round_idx}", cli_sample=cli, http_sample=HTTP_SAMPLE)
            self.check_reported(f"round {round_idx}", written, docs)
            if round_idx < self.rounds:
                self.mutate(round_idx, docs)
        log(f"{self.kills} ingests SIGKILLed, {self.completed} completed before the kill")
        if self.kills == 0:
            raise CheckFailed("no ingest was killed mid-way: the kill delays are miscalibrated")

        self.final_search_all()
        baseline, _ = self.verify("before index damage", cli_sample=0, http_sample=0)
        self.index_damage(baseline)

        # Finally, an uninterrupted ingest converges: every file stored with its current content.
        self.ragd.run("ingest", "--data", self.data, self.corpus_root, timeout=300)
        docs, _, _ = read_storage(self.data)
        stored = {d["source"]: d["hash"] for d in docs.values()}
        stale = [p for p in self.corpus.files if stored.get(p) != file_sha256(p)]
        if stale:
            raise CheckFailed(f"after a full ingest, {len(stale)} files are not stored with their "
                              f"current content, e.g. {stale[:3]}")
        baseline, _ = self.verify("after full ingest", cli_sample=2, http_sample=HTTP_SAMPLE)
        self.table_damage(baseline)


def main():
    test = Test()
    ok = False
    try:
        test.run()
        ok = True
    except CheckFailed as failure:
        log(f"FAILED (seed {test.seed}):\n{failure}")
    except subprocess.TimeoutExpired as timeout:
        log(f"FAILED (seed {test.seed}): timed out: {timeout}")
    elapsed = time.monotonic() - T0
    log(f"{test.ragd.searches} CLI searches; total {elapsed:.1f}s")
    if ok and elapsed > HARD_BUDGET_S:
        log(f"FAILED: took {elapsed:.1f}s, over the {HARD_BUDGET_S:.0f}s hard budget")
        ok = False
    if ok and os.environ.get("RAGD_CRASH_KEEP") != "1":
        shutil.rmtree(test.tmp, ignore_errors=True)
    else:
        log(f"data kept in {test.tmp}")
    if ok:
        log("PASSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
