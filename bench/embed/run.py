#!/usr/bin/env python3
"""What a remote embedder (embed.provider = "openai") costs, against the built-in one.

Starts `ragd mock-llm` (its POST /v1/embeddings answers at once), optionally behind
bench/fleet/delay_proxy.py to give each request a network round trip, then:
  - ingest: `ragd ingest CORPUS` with the built-in embedder and with the remote one, for each
    `--writers` value (ingest.write_concurrency; 0 = ragd's default), wall and CPU time;
  - search: `ragd serve` on each data directory and `ragd bench` of POST /v1/search with the
    questions of --queries, requests per second, latency and ragd's CPU per request.
Both embedders make --dimensions long vectors, so the indexes are the same size.

    python3 bench/embed/run.py --ragd build/ragd --corpus /tmp/pgmd \\
        --queries ../shared/data/pgdocs/queries.jsonl [--rtt-ms 50] [--writers 1,4,16]
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fleet"))
from delay_proxy import DelayProxy  # noqa: E402


def start_listening(argv, env=None):
    """Starts a ragd subcommand that prints `listening on HOST:PORT`; returns (proc, port)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=env)
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        raise SystemExit("no 'listening on' from %s: %r" % (argv, line))
    return proc, int(line.rsplit(":", 1)[1])


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ingest(ragd, corpus, data, env):
    shutil.rmtree(data, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    result = subprocess.run([ragd, "ingest", "--data", data, corpus], env=env,
                            capture_output=True, text=True)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0 or " 0 failed" not in result.stdout:
        raise SystemExit("ingest failed: %s %s" % (result.stdout[-500:], result.stderr[-500:]))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def search_load(ragd, data, env, queries, users, seconds):
    server, port = start_listening([ragd, "serve", "--data", data, "--listen", "127.0.0.1:0"],
                                   env)
    try:
        url = "http://127.0.0.1:%d/v1/search" % port
        bench = [ragd, "bench", "--url", url, "--users", str(users), "--queries", queries,
                 "--body-template", '{"query": "{query}", "top_k": 5}']
        subprocess.run(bench + ["--duration", "3s"], capture_output=True)  # warm up
        out = tempfile.NamedTemporaryFile(suffix=".json", delete=False).name
        cpu_before = cpu_seconds(server.pid)
        subprocess.run(bench + ["--duration", "%ds" % seconds, "--json", out],
                       capture_output=True, check=True)
        cpu = cpu_seconds(server.pid) - cpu_before
        with open(out) as f:
            report = json.load(f)
        os.unlink(out)
        return report, cpu
    finally:
        server.terminate()
        server.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ragd", default="build/ragd")
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--queries", required=True, help="BEIR queries.jsonl")
    parser.add_argument("--dimensions", type=int, default=256)
    parser.add_argument("--rtt-ms", type=float, default=0.0,
                        help="round trip added to every embeddings request (delay proxy)")
    parser.add_argument("--writers", default="0", help="ingest.write_concurrency values")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--skip-search", action="store_true")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="ragd-embed-bench-")
    questions = os.path.join(work, "questions.txt")
    with open(args.queries) as f, open(questions, "w") as out:
        for line in f:
            out.write(json.loads(line)["text"].replace("\n", " ") + "\n")
    mock, mock_port = start_listening([args.ragd, "mock-llm", "--listen", "127.0.0.1:0",
                                       "--threads", "1"])
    proxy = None
    port = mock_port
    if args.rtt_ms > 0:
        proxy = DelayProxy(target_port=mock_port, rtt_ms=args.rtt_ms).start()
        port = proxy.port
    base = dict(os.environ)
    lexical = dict(base, RAGD_EMBED_DIMENSIONS=str(args.dimensions))
    remote = dict(base, RAGD_EMBED_PROVIDER="openai",
                  RAGD_EMBED_BASE_URL="http://127.0.0.1:%d" % port, RAGD_EMBED_MODEL="mock",
                  RAGD_EMBED_DIMENSIONS=str(args.dimensions), RAGD_EMBED_SEND_DIMENSIONS="true")
    try:
        print("ingest of %s (%d dimensions, %.0f ms added round trip)"
              % (args.corpus, args.dimensions, args.rtt_ms))
        print("| embedder | writers | wall | ragd CPU |")
        print("| --- | --- | --- | --- |")
        for name, env in (("lexical-hash", lexical), ("openai (mock)", remote)):
            for writers in args.writers.split(","):
                env_w = dict(env, RAGD_INGEST_WRITE_CONCURRENCY=writers)
                wall, cpu = ingest(args.ragd, args.corpus, os.path.join(work, name[:6]), env_w)
                print("| %s | %s | %.2f s | %.2f s |"
                      % (name, writers if writers != "0" else "default", wall, cpu))
        if args.skip_search:
            return
        print("\nPOST /v1/search, %d users, %d s" % (args.users, args.seconds))
        print("| embedder | requests/s | p50 | p95 | ragd CPU per request |")
        print("| --- | --- | --- | --- | --- |")
        for name, env in (("lexical-hash", lexical), ("openai (mock)", remote)):
            report, cpu = search_load(args.ragd, os.path.join(work, name[:6]), env, questions,
                                      args.users, args.seconds)
            level = report["levels"][0]
            ok = level["successes"]
            if ok != level["requests"]:
                raise SystemExit("%s: %d of %d requests failed"
                                 % (name, level["requests"] - ok, level["requests"]))
            print("| %s | %.0f | %.2f ms | %.2f ms | %.0f µs |"
                  % (name, level["success_rps"], level["latency_ms"]["p50"],
                     level["latency_ms"]["p95"], cpu / max(ok, 1) * 1e6))
    finally:
        if proxy is not None:
            proxy.stop()
        mock.terminate()
        mock.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
