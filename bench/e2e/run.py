#!/usr/bin/env python3
"""End-to-end load benchmarks: ragd serve + ragd mock-llm + ragd bench on this machine.

Each scenario runs the same load twice where it matters: through ragd, and against the mock
directly ("harness only"), so the difference is ragd's own cost. ragd's CPU comes from
/proc/PID/stat (utime + stime) and its memory from /proc/PID/status (VmRSS).

    bench/e2e/run.py --ragd build/ragd [--scenarios latency,cpu,cachehit,overload,metricscost,chat,idle] [--quick]

Prints one table per scenario and writes bench/e2e/results.json (overwritten).
"""
import argparse
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PGDOCS = os.path.join(os.path.dirname(ROOT), "shared", "data", "pgdocs")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def start_listening(argv, env=None):
    """Starts a process that prints 'listening on HOST:PORT'; returns (proc, port)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, env=env)
    line = proc.stdout.readline().decode()
    if not line.startswith("listening on "):
        proc.kill()
        raise RuntimeError("%s did not start: %r" % (argv[:2], line))
    return proc, int(line.rsplit(":", 1)[1])


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def bench(ragd, url, out, *args):
    argv = [ragd, "bench", "--url", url, "--json", out] + [str(a) for a in args]
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=900)
    text = done.stdout.decode()
    sys.stdout.write(text)
    with open(out) as f:
        levels = json.load(f)
    return levels["levels"]


def level_summary(level):
    lat = level.get("latency_ms", {})
    first = level.get("first_event_ms", {})
    return {k: level.get(k) for k in ("users", "rate_per_s", "requests", "success_pct", "rps",
                                      "cpu_pct")} | {
        "p50": lat.get("p50"), "p95": lat.get("p95"), "p99": lat.get("p99"),
        "first_event_p50": first.get("p50"), "first_event_p95": first.get("p95"),
        "errors": level.get("errors")}


def write_queries(path, count=622):
    with open(os.path.join(PGDOCS, "queries.jsonl")) as f, open(path, "w") as out:
        for line in f:
            text = json.loads(line)["text"].replace("\n", " ").strip()
            if text:
                out.write(text + "\n")


class Stack:
    """A mock LLM and a ragd serving pgdocs, pointed at it."""

    def __init__(self, ragd, data, mock_args, env_extra=None, ragd_threads=2):
        self.mock, self.mock_port = start_listening(
            [ragd, "mock-llm", "--listen", "127.0.0.1:0", "--threads", "1"] + mock_args)
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAGD_")}
        env.update({"RAGD_LLM_PROVIDER": "openai",
                    "RAGD_LLM_BASE_URL": "http://127.0.0.1:%d" % self.mock_port,
                    "OPENAI_API_KEY": "bench", "RAGD_LOG_ACCESS": "false",
                    "RAGD_SERVER_DRAIN_DELAY_MS": "0", "RAGD_LLM_MAX_CONCURRENT": "20000",
                    "RAGD_LLM_MAX_CONNECTIONS": "20000", "RAGD_LLM_MAX_QUEUE": "20000",
                    "RAGD_SERVER_MAX_INFLIGHT_QUERIES": "30000"})
        env.update(env_extra or {})
        self.ragd, self.port = start_listening(
            [ragd, "serve", "--data", data, "--listen", "127.0.0.1:0",
             "--threads", str(ragd_threads)], env=env)

    def close(self):
        stop(self.ragd)
        stop(self.mock)


def chat_body():
    return ('{"model":"m","messages":[{"role":"user","content":"{query}"}],'
            '"stream":true,"max_tokens":64}')


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ragd", default=os.path.join(ROOT, "build", "ragd"))
    parser.add_argument("--scenarios", default="latency,cpu,cachehit,chat,idle")
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--chat-users", default="5000")
    args = parser.parse_args()
    ragd = os.path.abspath(args.ragd)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    scenarios = args.scenarios.split(",")
    duration = "10s" if args.quick else "20s"
    work = tempfile.mkdtemp(prefix="ragd-e2e-")
    results = {}
    try:
        data = os.path.join(work, "data")
        queries = os.path.join(work, "queries.txt")
        write_queries(queries)
        t0 = time.time()
        subprocess.run([ragd, "eval", PGDOCS, "--data", data, "--mode", "bm25"],
                       stdout=subprocess.DEVNULL, check=True)
        print("ingested pgdocs in %.1f s" % (time.time() - t0))
        out = os.path.join(work, "level.json")

        if "latency" in scenarios:
            # Added latency at 100 concurrent streams: 1 s to first token, 50 tokens at 100/s.
            stack = Stack(ragd, data, ["--latency-ms", "1000", "--tokens-per-second", "100",
                                       "--output-tokens", "50"],
                          {"RAGD_CACHE_L1_MAX_BYTES": "0"})
            try:
                via = bench(ragd, "http://127.0.0.1:%d/v1/query" % stack.port, out, "--users", 100,
                            "--duration", duration, "--stream", "--queries", queries,
                            "--body-template", '{"query": "{query}", "stream": true}')
                direct = bench(ragd, "http://127.0.0.1:%d/v1/chat/completions" % stack.mock_port,
                               out, "--users", 100, "--duration", duration, "--stream",
                               "--queries", queries, "--header", "Authorization: Bearer x",
                               "--body-template", chat_body())
                results["latency"] = {"ragd": level_summary(via[0]),
                                      "mock_only": level_summary(direct[0])}
            finally:
                stack.close()

        if "cpu" in scenarios:
            # ragd's CPU per uncached request at 500 requests/s (open loop, unique questions).
            stack = Stack(ragd, data, ["--latency-ms", "1000", "--output-tokens", "50"],
                          {"RAGD_CACHE_L1_MAX_BYTES": "0"})
            try:
                before = cpu_seconds(stack.ragd.pid)
                mock_before = cpu_seconds(stack.mock.pid)
                t = time.time()
                levels = bench(ragd, "http://127.0.0.1:%d/v1/query" % stack.port, out,
                               "--rate", 500, "--users", 2000, "--duration", duration,
                               "--ramp-up", "0s", "--queries", queries)
                elapsed = time.time() - t
                used = cpu_seconds(stack.ragd.pid) - before
                mock_used = cpu_seconds(stack.mock.pid) - mock_before
                requests = levels[0]["requests"]
                results["cpu"] = {"level": level_summary(levels[0]),
                                  "ragd_cpu_s": used, "mock_cpu_s": mock_used,
                                  "wall_s": elapsed,
                                  "ragd_cpu_ms_per_request": 1000 * used / max(1, requests)}
            finally:
                stack.close()

        if "cachehit" in scenarios:
            # Cache-hit path vs a trivial handler, same server, same run, 256 connections.
            stack = Stack(ragd, data, ["--latency-ms", "0", "--output-tokens", "50"])
            try:
                hits = bench(ragd, "http://127.0.0.1:%d/v1/query" % stack.port, out,
                             "--users", 256, "--duration", duration, "--queries", queries,
                             "--repeat-fraction", "1")
                health = bench(ragd, "http://127.0.0.1:%d/health" % stack.port, out,
                               "--users", 256, "--duration", duration)
                results["cachehit"] = {"query_hits": level_summary(hits[0]),
                                       "health": level_summary(health[0])}
            finally:
                stack.close()

        if "overload" in scenarios:
            # Shedding under overload: find the open-loop rate ragd serves with >= 99 %
            # success (uncached questions, mock 1 s), then offer twice that rate. Goodput
            # (successful requests per second) should stay >= 90 % of that capacity and the
            # accepted requests' p99 bounded: the excess is refused fast, not queued.
            stack = Stack(ragd, data, ["--latency-ms", "1000", "--output-tokens", "50"],
                          {"RAGD_CACHE_L1_MAX_BYTES": "0"})
            try:
                url = "http://127.0.0.1:%d/v1/query" % stack.port
                capacity, sweep = 0.0, []
                for rate in (200, 400, 600, 800, 1000, 1200, 1500):
                    level = bench(ragd, url, out, "--rate", rate, "--users", 4000,
                                  "--duration", duration, "--ramp-up", "0s",
                                  "--queries", queries)[0]
                    sweep.append(level_summary(level))
                    if level["success_pct"] < 99.0:
                        break
                    capacity = level["rps"] * level["success_pct"] / 100.0
                offered = 2 * capacity
                over = bench(ragd, url, out, "--rate", int(offered), "--users", 4000,
                             "--duration", duration, "--ramp-up", "0s",
                             "--queries", queries)[0]
                goodput = over["rps"] * over["success_pct"] / 100.0
                results["overload"] = {"sweep": sweep, "capacity_rps": capacity,
                                       "offered_rps": offered, "at_2x": level_summary(over),
                                       "goodput_rps": goodput,
                                       "goodput_over_capacity": goodput / max(capacity, 1)}
            finally:
                stack.close()

        if "metricscost" in scenarios:
            # What metrics cost on the cache-hit path: the same load against two servers, one
            # with server.metrics=false, alternated (on, off, on, off, ...) so drift on this
            # shared machine hits both alike; compare their throughput as a ratio.
            rounds = []
            for round_idx in range(3):
                round_result = {}
                for label, enabled in (("on", "true"), ("off", "false")):
                    stack = Stack(ragd, data, ["--latency-ms", "0", "--output-tokens", "50"],
                                  {"RAGD_SERVER_METRICS": enabled})
                    try:
                        hits = bench(ragd, "http://127.0.0.1:%d/v1/query" % stack.port, out,
                                     "--users", 256, "--duration", duration, "--queries",
                                     queries, "--repeat-fraction", "1")
                        round_result[label] = level_summary(hits[0])
                    finally:
                        stack.close()
                rounds.append(round_result)
                print("metrics cost round %d: on %.0f req/s, off %.0f req/s"
                      % (round_idx, round_result["on"]["rps"], round_result["off"]["rps"]))
            on = sum(r["on"]["rps"] for r in rounds)
            off = sum(r["off"]["rps"] for r in rounds)
            results["metricscost"] = {"rounds": rounds, "rps_ratio_on_over_off": on / off}

        if "chat" in scenarios:
            # Chat users: the answer streams over ~2 s, the user thinks 8 s, repeats.
            mock_args = ["--latency-ms", "200", "--tokens-per-second", "25",
                         "--output-tokens", "45"]
            for users in [int(u) for u in args.chat_users.split(",")]:
                stack = Stack(ragd, data, mock_args, {"RAGD_CACHE_L1_MAX_BYTES": "0"})
                try:
                    rss_before = rss_bytes(stack.ragd.pid)
                    via = bench(ragd, "http://127.0.0.1:%d/v1/query" % stack.port, out,
                                "--users", users, "--duration", "30s", "--ramp-up", "10s",
                                "--think-time", "8s", "--stream", "--queries", queries,
                                "--timeout", "60s",
                                "--body-template", '{"query": "{query}", "stream": true}')
                    rss_peak = rss_bytes(stack.ragd.pid)
                    direct = bench(ragd, "http://127.0.0.1:%d/v1/chat/completions"
                                   % stack.mock_port, out, "--users", users, "--duration", "30s",
                                   "--ramp-up", "10s", "--think-time", "8s", "--stream",
                                   "--queries", queries, "--timeout", "60s",
                                   "--header", "Authorization: Bearer x",
                                   "--body-template", chat_body())
                    results["chat_%d" % users] = {"ragd": level_summary(via[0]),
                                                  "mock_only": level_summary(direct[0]),
                                                  "ragd_rss_before": rss_before,
                                                  "ragd_rss_after_load": rss_peak}
                finally:
                    stack.close()

        if "idle" in scenarios:
            # Memory per idle keep-alive connection: 10,000 connections that did one request.
            stack = Stack(ragd, data, ["--latency-ms", "0"])
            socks = []
            try:
                before = rss_bytes(stack.ragd.pid)
                request = b"GET /health HTTP/1.1\r\nHost: b\r\n\r\n"
                for conn_idx in range(10000):
                    s = socket.socket()
                    s.bind(("127.0.0.%d" % (2 + conn_idx // 5000), 0))
                    s.connect(("127.0.0.1", stack.port))
                    s.sendall(request)
                    socks.append(s)
                for s in socks:
                    s.settimeout(10)
                    s.recv(4096)
                time.sleep(1)
                after = rss_bytes(stack.ragd.pid)
                results["idle"] = {"connections": len(socks), "rss_before": before,
                                   "rss_after": after,
                                   "bytes_per_connection": (after - before) / len(socks)}
            finally:
                for s in socks:
                    s.close()
                stack.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    with open(os.path.join(HERE, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
