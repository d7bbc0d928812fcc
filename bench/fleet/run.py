#!/usr/bin/env python3
"""What the PostgreSQL backend costs, against SQLite, on this machine.

1. `ragd ingest FOLDER` into a fresh SQLite data directory and into a fresh PostgreSQL
   database (the server started here, as in the tests: fsync off), ROUNDS times alternated:
   wall time, ragd's CPU and the server's CPU.
2. Two `ragd serve` replicas on one database: how long after a POST /v1/documents on replica A
   returns the document is searchable (BM25) on replica B, over N documents, for a follow
   interval; and the search latency on B for the same queries.

    python3 bench/fleet/run.py --ragd build/ragd --corpus /tmp/nodemd [--rounds 3] [--docs 50]
        [--rtt-ms 2] [--ingest-only]

--rtt-ms puts a proxy that delays each direction by half of it between the ingest and the
database (delay_proxy.py), for what a database on another host costs per round trip.
"""
import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "tests", "integration"))
from ragd_harness import Postgres, RagdServer  # noqa: E402
from delay_proxy import DelayProxy  # noqa: E402


def proc_cpu(pid):
    """utime + stime of a process and its reaped children, seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(x) for x in fields[11:15]) / ticks


def server_cpu(pg):
    """CPU of the whole server: the postmaster, the backends it has reaped, and its live
    children (checkpointer, WAL writer, autovacuum, backends still running)."""
    total = proc_cpu(pg.proc.pid)
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pg.proc.pid:  # ppid
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def timed_ingest(ragd, corpus, env):
    data = tempfile.mkdtemp(prefix="ragd-bench-fleet-")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    subprocess.run([ragd, "ingest", "--data", data, corpus], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=dict(os.environ, **env))
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    shutil.rmtree(data, ignore_errors=True)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def statement_round_trip_ms(pg, port, statements=300):
    """What one `SELECT 1` costs through `port`, psql's start amortized: the round trip a
    client actually gets (the proxy's timers and its own CPU included)."""
    start = time.monotonic()
    subprocess.run([os.path.join(pg.bindir, "psql"), "-X", "-q", "-h", "127.0.0.1", "-p",
                    str(port), "-U", "ragd", "-d", "postgres"],
                   input=("SELECT 1;\n" * statements).encode(), stdout=subprocess.DEVNULL,
                   check=True)
    return (time.monotonic() - start) * 1000 / statements


def ingest_url(pg, db, proxy):
    url = pg.url(db)
    if proxy is None:
        return url
    return url.replace(":%d/" % pg.port, ":%d/" % proxy.port)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ragd", required=True)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--docs", type=int, default=50)
    parser.add_argument("--follow-ms", type=int, default=1000)
    parser.add_argument("--rtt-ms", type=float, default=0.0)
    parser.add_argument("--ingest-only", action="store_true")
    args = parser.parse_args()
    os.environ["RAGD_BIN"] = os.path.abspath(args.ragd)
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(args.corpus)
               for f in fs)
    pg = Postgres().start()
    proxy = DelayProxy(pg.port, args.rtt_ms).start() if args.rtt_ms > 0 else None
    try:
        print("ingest of %s (%.2f MB)" % (args.corpus, size / 1e6))
        print("round trip of a statement: direct %.2f ms" % statement_round_trip_ms(pg, pg.port)
              + (", through the proxy (--rtt-ms %g) %.2f ms"
                 % (args.rtt_ms, statement_round_trip_ms(pg, proxy.port)) if proxy else ""))
        for round_ in range(args.rounds):
            wall, cpu = timed_ingest(args.ragd, args.corpus, {"RAGD_STORAGE_BACKEND": "sqlite"})
            print("  round %d sqlite:   wall %.2f s (%.1f MB/s), ragd CPU %.2f s"
                  % (round_ + 1, wall, size / 1e6 / wall, cpu))
            db = "bench_%d" % round_
            pg.psql("DROP DATABASE IF EXISTS %s" % db)
            pg.psql("CREATE DATABASE %s" % db)
            server_before = server_cpu(pg)
            wall, cpu = timed_ingest(args.ragd, args.corpus,
                                     {"RAGD_STORAGE_BACKEND": "postgres",
                                      "RAGD_STORAGE_POSTGRES_URL": ingest_url(pg, db, proxy)})
            time.sleep(1)  # the postmaster reaps the ingest's backends after it exits
            print("  round %d postgres: wall %.2f s (%.1f MB/s), ragd CPU %.2f s, "
                  "postgres CPU %.2f s" % (round_ + 1, wall, size / 1e6 / wall, cpu,
                                          server_cpu(pg) - server_before))
        if args.ingest_only:
            return
        pg.psql("DROP DATABASE IF EXISTS fleet")
        pg.psql("CREATE DATABASE fleet")
        env = {"RAGD_STORAGE_BACKEND": "postgres", "RAGD_STORAGE_POSTGRES_URL": pg.url("fleet"),
               "RAGD_STORAGE_FOLLOW_INTERVAL_MS": str(args.follow_ms)}
        with RagdServer(env=env, threads=1) as a, RagdServer(env=env, threads=1) as b:
            delays, searches = [], []
            for n in range(args.docs):
                word = "fleetword%dz" % n
                a.ingest(id="doc%d" % n, text="A note about %s and nothing else." % word)
                written = time.monotonic()
                while True:
                    t0 = time.monotonic()
                    resp = b.post("/v1/search", {"query": word, "top_k": 1, "mode": "bm25"})
                    searches.append(time.monotonic() - t0)
                    if resp.body["results"]:
                        break
                    time.sleep(0.002)
                delays.append(time.monotonic() - written)
                time.sleep((n % 7) / 10 * args.follow_ms / 1000)  # spread over the interval
            delays.sort()
            print("written on A -> searchable on B, follow interval %d ms, %d documents: "
                  "p50 %.0f ms, p95 %.0f ms, max %.0f ms"
                  % (args.follow_ms, len(delays), 1000 * statistics.median(delays),
                     1000 * delays[int(0.95 * (len(delays) - 1))], 1000 * delays[-1]))
            print("search on B (BM25, top 1), %d requests: median %.2f ms"
                  % (len(searches), 1000 * statistics.median(searches)))
    finally:
        if proxy is not None:
            proxy.stop()
        pg.cleanup()


if __name__ == "__main__":
    main()
