#!/usr/bin/env python3
# Fault tests of the real binary: Redis killed and restarted under query load, the disk filling
# up during an ingest, and SIGTERM with queries in flight. Each prints its figures (failed
# queries, documents lost, time to recover) for docs/security.md. Python 3 stdlib only.
import os
import random
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ragd_harness import (DATA_DIR, MockLlm, RagdServer, Redis, clean_env,  # noqa: E402
                          free_port, ragd_bin, run_cli, wait_for)

CORPUS = os.path.join(DATA_DIR, "corpus")
SHARED = {}
METRIC_LINE = re.compile(r'^ragd_cache_requests_total\{tier="(\w+)",result="(\w+)"\} (\d+)$')
# `ragd ingest` prints `created <id>  <abs path>  (N chunks)` per stored file.
CREATED_LINE = re.compile(r"^created\s+([0-9a-f]{16})\s+(\S.*?)\s+\((\d+) chunks\)$")


def setUpModule():
    SHARED["tmp"] = tempfile.mkdtemp(prefix="ragd-it-faults-")
    SHARED["data"] = os.path.join(SHARED["tmp"], "data")
    paths = [os.path.join(CORPUS, name) for name in ("lighthouse.md", "sourdough.txt", "guides")]
    result = run_cli("ingest", "--data", SHARED["data"], *paths)
    if result.returncode != 0:
        raise AssertionError("ingest failed: %r" % (result,))


def tearDownModule():
    shutil.rmtree(SHARED.pop("tmp", ""), ignore_errors=True)


def figure(text):
    """One line of figures, on stdout so `ctest -V` shows them."""
    print("FIGURE " + text, flush=True)




def cache_counts(server):
    """ragd_cache_requests_total as {(tier, result): count}."""
    resp = server.request("GET", "/metrics")
    assert resp.status == 200, resp
    counts = {}
    for line in resp.body.decode().splitlines():
        match = METRIC_LINE.match(line)
        if match:
            counts[(match.group(1), match.group(2))] = int(match.group(3))
    return counts


def check_json(data_dir, *flags):
    """`ragd check --json` as (exit code, parsed report)."""
    result = run_cli("check", "--data", data_dir, "--json", *flags)
    try:
        return result.returncode, result.json()
    except ValueError:
        raise AssertionError("ragd check printed no JSON: %r" % (result,))


# -- Redis killed and restarted under load -------------------------------------------------------




class Load:
    """Threads posting /v1/query in a loop (every other question repeated, the rest unique),
    recording (phase, status or exception, cache tier); plus one thread polling /ready."""

    REPEATED = ["How does a lighthouse lens focus the light?",
                "What does a sourdough starter need?",
                "Why do lighthouses use Fresnel lenses?",
                "How long should sourdough rise?"]

    def __init__(self, server, threads=3):
        self.server = server
        self.phase = "redis up"
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.results = []  # (phase, status, cache)
        self.ready = []    # (phase, status, redis check status)
        self.threads = [threading.Thread(target=self._query, args=(n,), daemon=True)
                        for n in range(threads)]
        self.threads.append(threading.Thread(target=self._poll_ready, daemon=True))

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)
        return False

    def _query(self, worker):
        n = 0
        while not self.stop.is_set():
            n += 1
            phase = self.phase
            if n % 2:
                question = self.REPEATED[(n // 2 + worker) % len(self.REPEATED)]
            else:
                question = "lighthouse keeper question %d-%d" % (worker, n)
            try:
                resp = self.server.post("/v1/query", {"query": question, "top_k": 3})
                cache = resp.body.get("cache") if isinstance(resp.body, dict) else None
                outcome = (phase, resp.status, cache)
            except Exception as error:  # any transport failure is a failed query
                outcome = (phase, repr(error), None)
            with self.lock:
                self.results.append(outcome)

    def _poll_ready(self):
        while not self.stop.wait(0.05):
            phase = self.phase
            try:
                resp = self.server.request("GET", "/ready")
                redis = resp.body["checks"]["redis"]["status"] if isinstance(resp.body, dict) \
                    else None
                outcome = (phase, resp.status, redis)
            except Exception as error:
                outcome = (phase, repr(error), None)
            with self.lock:
                self.ready.append(outcome)

    def snapshot(self):
        with self.lock:
            return list(self.results), list(self.ready)


class RedisFaultTest(unittest.TestCase):
    def setUp(self):
        if shutil.which("redis-server") is None:
            self.skipTest("redis-server is not installed")
        self.workdir = tempfile.mkdtemp(prefix="ragd-it-redis-", dir=SHARED["tmp"])
        self.redis = Redis(free_port(), self.workdir).start()
        self.addCleanup(self.redis.kill)

    def test_redis_killed_and_restarted_under_load(self):
        # An L1 too small to hold any answer (0 would turn caching off): every repeat goes to
        # Redis, as on a replica that has not seen the question, so each response's "cache"
        # field shows what L2 did.
        env = {"RAGD_CACHE_REDIS_URL": "redis://127.0.0.1:%d" % self.redis.port,
               "RAGD_CACHE_L1_MAX_BYTES": "1"}
        with RagdServer(env=env, data_dir=SHARED["data"]) as server:
            with Load(server) as load:
                wait_for(lambda: cache_counts(server).get(("l2", "hit"), 0) >= 5, 15,
                         "L2 hits while Redis is up")
                errors_before = cache_counts(server).get(("l2", "error"), 0)

                self.redis.kill()
                killed_at = time.monotonic()
                # After the kill: a request tagged "redis down" cannot have reached Redis.
                load.phase = "redis down"
                wait_for(lambda: cache_counts(server).get(("l2", "error"), 0) > errors_before,
                         10, "ragd_cache_requests_total{tier=l2,result=error} to move")
                # Keep the load on past the 1 s down-backoff so requests also skip Redis.
                wait_for(lambda: time.monotonic() - killed_at > 1.5, 5, "1.5 s of outage")
                down_counts = cache_counts(server)

                load.phase = "redis restarted"
                self.redis.start()
                restarted_at = time.monotonic()
                hits_at_restart = cache_counts(server).get(("l2", "hit"), 0)
                # A question first asked after the restart: stored in the new (empty) Redis by
                # the first ask, then served from it.
                probe = {"query": "lighthouse question asked after the restart", "top_k": 3}

                def probe_from_l2():
                    resp = server.post("/v1/query", probe)
                    self.assertEqual(resp.status, 200, resp)
                    return resp.body.get("cache") == "l2"

                wait_for(probe_from_l2, 10, "a post-restart question served from L2",
                         interval=0.05)
                recovered_s = time.monotonic() - restarted_at
                wait_for(lambda: cache_counts(server).get(("l2", "hit"), 0) > hits_at_restart + 5,
                         10, "L2 hits under load after the restart")
            results, ready = load.snapshot()

        failed = [r for r in results if r[1] != 200]
        self.assertEqual(failed, [], "queries failed while Redis was killed/restarted")
        not_ready = [r for r in ready if r[1] != 200]
        self.assertEqual(not_ready, [], "/ready left 200 while only the optional Redis was down")
        by_phase = {}
        for phase, _, cache in results:
            by_phase.setdefault(phase, {}).setdefault(cache, 0)
            by_phase[phase][cache] += 1
        self.assertGreater(sum(by_phase.get("redis down", {}).values()), 0, by_phase)
        self.assertIn("degraded", {r[2] for r in ready if r[0] == "redis down"},
                      "the redis readiness check never reported the outage")
        self.assertEqual(by_phase.get("redis down", {}).get("l2", 0), 0,
                         "an L2 hit while Redis was dead")
        figure("redis kill/restart: %d queries (%s), failed 0, /ready polls %d all 200, "
               "l2 errors while down %d, first L2 hit for a post-restart key %.2f s after the "
               "restart" % (len(results), by_phase, len(ready),
                            down_counts.get(("l2", "error"), 0) - errors_before, recovered_s))


# -- disk full during ingest ---------------------------------------------------------------------


def make_corpus(root, files, paragraphs, seed=7):
    """`files` Markdown files of `paragraphs` 250-word paragraphs each (about 1.9 KB each)."""
    rng = random.Random(seed)
    vocabulary = ["".join(rng.choice("abcdefghiklmnoprstuvw") for _ in range(rng.randint(3, 9)))
                  for _ in range(4000)]
    os.makedirs(root)
    for index in range(files):
        with open(os.path.join(root, "doc%03d.md" % index), "w") as out:
            out.write("# Document %d\n\n" % index)
            for _ in range(paragraphs):
                out.write(" ".join(rng.choice(vocabulary) for _ in range(250)) + ".\n\n")


class SmallDisk:
    """A directory that runs out of space: a 3 MiB tmpfs when mount is allowed, else a file-size
    limit (RLIMIT_FSIZE, SIGXFSZ ignored) applied to the ragd process. free() lifts it."""

    SIZE_BYTES = 3 * 1024 * 1024

    def __init__(self, path):
        self.path = path
        os.makedirs(path)
        self.mode = None
        if os.environ.get("RAGD_FAULTS_FORCE_RLIMIT") != "1" and self._mount():
            self.mode = "tmpfs"
        elif self._rlimit_works():
            self.mode = "rlimit"

    def _mount(self):
        try:
            result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d" % self.SIZE_BYTES,
                                     "tmpfs", self.path], capture_output=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return result.returncode == 0

    @staticmethod
    def _limit_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # inherited by exec: EFBIG, not death
        resource.setrlimit(resource.RLIMIT_FSIZE, (SmallDisk.SIZE_BYTES, SmallDisk.SIZE_BYTES))

    def _rlimit_works(self):
        probe = os.path.join(self.path, "probe")
        # Past the limit a write comes up short (or fails with EFBIG): either way, limited.
        code = ("import os, sys\ntry:\n    with open(%r, 'wb') as f:\n        f.write(b'x' * %d)\n"
                "except OSError:\n    sys.exit(0)\nsys.exit(0 if os.path.getsize(%r) < %d else 1)\n"
                % (probe, self.SIZE_BYTES + 4096, probe, self.SIZE_BYTES + 4096))
        result = subprocess.run([sys.executable, "-c", code], preexec_fn=self._limit_files,
                                capture_output=True, timeout=30)
        if os.path.exists(probe):
            os.remove(probe)
        return result.returncode == 0

    def preexec(self):
        return self._limit_files if self.mode == "rlimit" else None

    def free(self):
        if self.mode == "tmpfs":
            subprocess.run(["mount", "-o", "remount,size=256m", self.path], check=True,
                           timeout=10)
        self.mode = "freed" if self.mode == "tmpfs" else self.mode

    def cleanup(self):
        if self.mode in ("tmpfs", "freed"):
            subprocess.run(["umount", "-l", self.path], capture_output=True, timeout=10)


class DiskFullTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ragd-it-disk-", dir=SHARED["tmp"])
        self.disk = SmallDisk(os.path.join(self.tmp, "disk"))
        self.addCleanup(self.disk.cleanup)
        if self.disk.mode is None:
            self.skipTest("cannot make a small disk: mount -t tmpfs is refused and RLIMIT_FSIZE "
                          "does not limit writes here")
        self.corpus = os.path.join(self.tmp, "corpus")
        # About 3 MB of text: with embeddings and the WAL, several times the 3 MiB disk.
        make_corpus(self.corpus, files=60, paragraphs=25)
        self.data = os.path.join(self.disk.path, "data")

    def ingest(self, preexec=None):
        argv = [ragd_bin(), "ingest", "--data", self.data, self.corpus]
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, env=clean_env(),
                              preexec_fn=preexec)

    def stored_chunks(self):
        db = sqlite3.connect(os.path.join(self.data, "ragd.sqlite"), timeout=10)
        try:
            return dict(db.execute("SELECT d.id, count(c.id) FROM documents d LEFT JOIN chunks c "
                                   "ON c.document_id = d.id GROUP BY d.id"))
        finally:
            db.close()

    def test_ingest_into_a_full_disk_fails_cleanly_and_recovers(self):
        started = time.monotonic()
        full = self.ingest(self.disk.preexec())
        self.assertNotEqual(full.returncode, 0, "ingest into a full disk exited 0\n%s"
                            % full.stderr[-2000:])
        failures = [line for line in full.stderr.splitlines()
                    if line.startswith("error: " + self.corpus)]
        self.assertTrue(failures, "no per-file error lines:\n%s" % full.stderr[-2000:])
        reason = re.compile(r"full|no space|too large|I/O error", re.IGNORECASE)
        unclear = [line for line in failures if not reason.search(line)]
        self.assertEqual(unclear, [], "errors that do not say the disk is full")
        created = {}
        for line in full.stdout.splitlines():
            match = CREATED_LINE.match(line)
            if match:
                created[match.group(1)] = int(match.group(3))
        self.assertLess(len(created), 60, "everything fit: the disk is not small enough")

        self.disk.free()
        freed_at = time.monotonic()
        # Nothing half-written: storage intact, every reported document whole, no index entry
        # for a chunk storage does not have. The indexes may lag (their commit hit the full
        # disk after storage's): that is what startup catch-up is for.
        code, report = check_json(self.data)
        self.assertTrue(report["storage"]["consistent"], report)
        self.assertTrue(report["embeddings"]["consistent"], report)
        for name, index in report["indexes"].items():
            self.assertEqual(index["extra"]["count"], 0, (name, report))
            if index["lag"] == 0:
                self.assertEqual(index["missing"]["count"], 0, (name, report))
        stored = self.stored_chunks()
        lost = {doc: chunks for doc, chunks in created.items() if stored.get(doc) != chunks}
        self.assertEqual(lost, {}, "documents reported created but not stored whole")
        self.assertEqual(len(stored), len(created), "stored documents that ingest reported failed")
        lag = max(index["lag"] for index in report["indexes"].values())

        # An ordinary open catches the indexes up; then the directory is consistent.
        self.assertEqual(run_cli("stats", "--data", self.data).returncode, 0)
        code, report = check_json(self.data)
        self.assertEqual(code, 0, report)
        self.assertTrue(report["consistent"])
        recovered_s = time.monotonic() - freed_at

        again = self.ingest()
        self.assertEqual(again.returncode, 0, again.stderr[-2000:])
        self.assertIn("(%d created, 0 replaced, %d unchanged)" % (60 - len(created), len(created)),
                      again.stdout)
        code, report = check_json(self.data)
        self.assertEqual(code, 0, report)
        self.assertEqual(report["storage"]["documents"], 60)
        leftovers = [name for name in os.listdir(self.data) if name.endswith(".tmp")]
        self.assertEqual(leftovers, [], "temporary files left behind by the failed saves")
        figure("disk full (%s): %d of 60 files stored before the disk filled, %d failed with "
               "'%s'; documents lost 0; index lag after the fault %d changes; consistent %.2f s "
               "after space was freed; re-ingest stored the rest (total %.1f s)"
               % (self.disk.mode if self.disk.mode != "freed" else "tmpfs", len(created),
                  len(failures), reason.search(failures[0]).group(0), lag, recovered_s,
                  time.monotonic() - started))


# -- SIGTERM with queries in flight --------------------------------------------------------------


class SigtermDrainTest(unittest.TestCase):
    IN_FLIGHT = 20

    def test_sigterm_lets_in_flight_queries_finish(self):
        with MockLlm(["--latency-ms", "800", "--seed", "3"]) as mock:
            env = {"RAGD_SERVER_DRAIN_DELAY_MS": "500", "RAGD_LLM_PROVIDER": "openai",
                   "RAGD_LLM_BASE_URL": mock.url, "OPENAI_API_KEY": "x",
                   "RAGD_CACHE_L1_MAX_BYTES": "0"}
            server = RagdServer(env=env, data_dir=SHARED["data"])
            server.start()
            self.addCleanup(server.stop)
            self.assertEqual(server.wait_ready().status, 200)
            results = [None] * self.IN_FLIGHT

            def ask(slot):
                # Distinct questions: each one is its own upstream call (no coalescing).
                body = {"query": "How does lighthouse lens %d focus light?" % slot, "top_k": 3}
                try:
                    conn = server.connection(timeout=30)
                    resp = server.post("/v1/query", body, conn=conn)
                    conn.close()
                    results[slot] = (resp.status, resp.body)
                except Exception as error:
                    results[slot] = (repr(error), None)

            threads = [threading.Thread(target=ask, args=(n,), daemon=True)
                       for n in range(self.IN_FLIGHT)]
            for thread in threads:
                thread.start()
            wait_for(lambda: mock.stats()["requests_in_flight"] >= self.IN_FLIGHT, 15,
                     "%d requests in flight at the mock" % self.IN_FLIGHT)

            signalled = time.monotonic()
            server.proc.send_signal(signal.SIGTERM)
            ready = wait_for(lambda: server.request("GET", "/ready").status == 503 and
                             time.monotonic(), 0.4, "/ready to turn 503 inside the drain delay",
                             interval=0.005)
            not_ready_s = ready - signalled
            for thread in threads:
                thread.join(timeout=30)
            code = server.proc.wait(timeout=30)
            exited_s = time.monotonic() - signalled
            server.stop()

        self.assertEqual(code, 0, server.stderr())
        failed = [r for r in results if r is None or r[0] != 200]
        self.assertEqual(failed, [], "in-flight queries did not complete with 200")
        generators = {r[1]["generator"] for r in results}
        self.assertEqual(generators, {"openai"})
        figure("SIGTERM with %d queries in flight (800 ms upstream latency): %d answered 200 by "
               "openai, /ready 503 after %.0f ms, exit 0 after %.2f s"
               % (self.IN_FLIGHT, len(results), not_ready_s * 1000, exited_s))


if __name__ == "__main__":
    unittest.main(verbosity=2)
