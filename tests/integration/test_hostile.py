#!/usr/bin/env python3
# Hostile clients against the real binary, one attack after another, while a well-behaved
# client keeps searching: slowloris, huge headers, a body that never ends, invalid UTF-8, deeply
# nested JSON, 10,000 abandoned connections and pipelined garbage. The well-behaved client must
# never fail and stay fast; memory and descriptors must come back; ragd must exit 0 on SIGTERM.
# Prints a summary whose figures go into docs/security.md ("Attacks and faults tried").
import http.client
import json
import os
import random
import resource
import select
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ragd_harness import SANITIZE, RagdServer, RawReader, scaled  # noqa: E402

# Against a sanitizer build (several times slower), ragd's timeouts and every wait and time
# bound below are stretched by the same factor (ragd_harness.scaled; 1x for other builds): the
# checks are relative to the timeouts, so they keep their meaning.
HEADER_TIMEOUT_MS = int(scaled(2000))
BODY_TIMEOUT_MS = int(scaled(2000))
IDLE_TIMEOUT_MS = int(scaled(5000))
# The server closes a timed-out connection within its timeout plus this (a loaded machine).
CLOSE_SLACK_S = scaled(3.0)
# How long a client waits for an answer, a connect, or the server to settle.
CLIENT_TIMEOUT_S = scaled(10.0)
ABANDONED_CONNECTIONS = 10000
SLOWLORIS_CONNECTIONS = 200
# Bounds of the acceptance criteria.
GOOD_P99_LIMIT_S = scaled(1.0)
FD_GROWTH_LIMIT = 16


def asan_quarantine_bytes():
    """Freed memory ASan keeps resident on purpose (to catch use-after-free): quarantine_size_mb
    from ASAN_OPTIONS, else its 64-bit Linux default of 256 MiB; 0 without ASan."""
    if "address" not in SANITIZE:
        return 0
    megabytes = 256
    for option in os.environ.get("ASAN_OPTIONS", "").replace(",", ":").split(":"):
        name, _, value = option.partition("=")
        if name.strip() == "quarantine_size_mb" and value.strip().isdigit():
            megabytes = int(value)
    return megabytes * 1024 * 1024


# Memory that does not come back; under ASan, plus what its quarantine holds by design.
RSS_GROWTH_LIMIT_BYTES = 64 * 1024 * 1024 + asan_quarantine_bytes()

DOCUMENTS = [
    {"id": "glacier", "source": "glacier.md",
     "text": "# Glacier\n\nSurveyors measured the zephyrine glacier with stakes drilled into the "
             "ice. The glacier retreated four hundred metres over a decade."},
    {"id": "reef", "source": "reef.txt",
     "text": "The quokkalith reef shelters parrotfish and sea turtles in warm shallow water. "
             "Bleaching happens when the water gets too warm for the coral."},
    {"id": "marmot", "source": "marmot.txt",
     "text": "Marmotide alpine marmots whistle to warn the colony when an eagle circles above "
             "the meadow. They hibernate in deep burrows."},
    {"id": "vineyard", "source": "vineyard.txt",
     "text": "Trellisbloom vineyards on the southern slopes ripen their grapes late in autumn; "
             "the harvest is picked by hand before the first frost."},
]
GOOD_QUERIES = ["zephyrine glacier stakes", "quokkalith reef turtles", "marmots whistle eagle",
                "trellisbloom grapes harvest"]


def percentile(values, fraction):
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))
    return ordered[index]


def proc_status_bytes(pid, field):
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no %s in /proc/%d/status" % (field, pid))


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def raise_fd_limit(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft == resource.RLIM_INFINITY:
        return wanted
    if soft >= target:
        return soft
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


class GoodClient(threading.Thread):
    """Sequential searches and health checks, mostly on one keep-alive connection and every
    tenth on a fresh one (a new user arriving), each timed and tagged with the current phase."""

    def __init__(self, host, port):
        super().__init__(daemon=True)
        self.host = host
        self.port = port
        self.phase = "baseline"
        self.samples = []  # (phase, seconds)
        self.failures = []  # (phase, description)
        self.stop_event = threading.Event()
        self.started = time.monotonic()
        self.slowest = []  # (seconds, phase, fresh connection, search, at)

    def _request(self, conn, index):
        if index % 2 == 0:
            body = json.dumps({"query": GOOD_QUERIES[index // 2 % len(GOOD_QUERIES)],
                               "top_k": 3})
            conn.request("POST", "/v1/search", body=body,
                         headers={"Content-Type": "application/json"})
        else:
            conn.request("GET", "/health")
        resp = conn.getresponse()
        payload = resp.read()
        if resp.status != 200:
            raise AssertionError("status %d: %r" % (resp.status, payload[:200]))
        if index % 2 == 0 and not json.loads(payload)["results"]:
            raise AssertionError("no search results: %r" % payload[:200])

    def run(self):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=CLIENT_TIMEOUT_S)
        index = 0
        while not self.stop_event.is_set():
            fresh = index % 10 == 9
            use = (http.client.HTTPConnection(self.host, self.port, timeout=CLIENT_TIMEOUT_S)
                   if fresh else conn)
            phase = self.phase
            start = time.monotonic()
            try:
                self._request(use, index)
                elapsed = time.monotonic() - start
                self.samples.append((phase, elapsed))
                self.slowest = sorted(self.slowest + [(elapsed, phase, fresh, index % 2 == 0,
                                                       start - self.started)])[-5:]
            except Exception as error:  # noqa: BLE001 - every failure is the finding
                self.failures.append((phase, "%s: %r" % (type(error).__name__, error)))
                if not fresh:
                    conn.close()
                    conn = http.client.HTTPConnection(self.host, self.port,
                                                      timeout=CLIENT_TIMEOUT_S)
            finally:
                if fresh:
                    use.close()
            index += 1
            self.stop_event.wait(0.01)
        conn.close()

    def latencies(self, phases=None):
        return [s for p, s in self.samples if phases is None or p in phases]


def wait_closed(socks, limit_s, trickle=None, trickle_every_s=1.0):
    """Waits until the server closes each socket (EOF or reset). Sends `trickle` (one byte) on
    every open socket each `trickle_every_s` meanwhile. Returns ({sock: seconds to close},
    {sock: bytes the server sent})."""
    start = time.monotonic()
    poller = select.poll()
    by_fd = {}
    for sock in socks:
        sock.setblocking(False)
        poller.register(sock.fileno(), select.POLLIN)
        by_fd[sock.fileno()] = sock
    closed = {}
    received = {sock: b"" for sock in socks}
    next_trickle = start + trickle_every_s
    while len(closed) < len(socks) and time.monotonic() - start < limit_s:
        now = time.monotonic()
        if trickle is not None and now >= next_trickle:
            next_trickle += trickle_every_s
            for sock in socks:
                if sock in closed:
                    continue
                try:
                    sock.send(trickle)
                except BlockingIOError:
                    pass
                except OSError:
                    closed[sock] = now - start
                    poller.unregister(sock.fileno())
        for fd, _ in poller.poll(100):
            sock = by_fd[fd]
            if sock in closed:
                continue
            try:
                chunk = sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            if chunk:
                received[sock] += chunk
            else:
                closed[sock] = time.monotonic() - start
                poller.unregister(fd)
    return closed, received


def status_of(raw):
    """The status code at the start of `raw` response bytes, or None."""
    if not raw.startswith(b"HTTP/1."):
        return None
    return int(raw.split(b" ", 2)[1])


class HostileClientsTest(unittest.TestCase):
    def setUp(self):
        self.fd_limit = raise_fd_limit(20000)
        env = {"RAGD_SERVER_HEADER_TIMEOUT_MS": str(HEADER_TIMEOUT_MS),
               "RAGD_SERVER_BODY_TIMEOUT_MS": str(BODY_TIMEOUT_MS),
               "RAGD_SERVER_IDLE_TIMEOUT_MS": str(IDLE_TIMEOUT_MS)}
        self.server = RagdServer(env=env)
        self.server.start()
        self.addCleanup(self._stop_server)
        for doc in DOCUMENTS:
            self.server.ingest(**doc)
        self.pid = self.server.proc.pid
        self.figures = []  # (attack, outcome) rows for the summary

    def _stop_server(self):
        if self.server.proc is not None:
            self.server.stop()

    # -- helpers --------------------------------------------------------------------------------

    def assertAlive(self, after):
        self.assertTrue(self.server.alive(), "ragd died during %s\nstderr:\n%s"
                        % (after, self.server.stderr()[-4000:]))

    def connect(self):
        sock = socket.create_connection((self.server.host, self.server.port),
                                        timeout=CLIENT_TIMEOUT_S)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def exchange(self, data, timeout=CLIENT_TIMEOUT_S, expect_close=False):
        """Sends `data` on a new connection; returns (status or None, body bytes, closed after).
        `closed after` is only looked at with `expect_close` (a kept-alive connection would
        make the check wait for the idle timeout); it is False otherwise."""
        sock = self.connect()
        try:
            try:
                sock.sendall(data)
            except OSError:
                pass  # the server may answer and close before taking everything
            reader = RawReader(sock, timeout)
            try:
                resp = reader.read()
            except (ConnectionError, OSError):
                return None, b"", True
            if not expect_close:
                return resp.status, resp.body, False
            try:
                sock.settimeout(timeout)
                rest = sock.recv(1)
                closed = rest == b""
            except OSError:
                closed = True
            return resp.status, resp.body, closed
        finally:
            sock.close()

    def note(self, attack, outcome):
        self.figures.append((attack, outcome))
        print("  %-28s %s" % (attack, outcome), flush=True)

    # -- attacks --------------------------------------------------------------------------------

    def attack_slowloris(self):
        socks = [self.connect() for _ in range(SLOWLORIS_CONNECTIONS)]
        for sock in socks:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        closed, received = wait_closed(socks, HEADER_TIMEOUT_MS / 1000 + CLOSE_SLACK_S + scaled(5),
                                       trickle=b"a")
        for sock in socks:
            sock.close()
        self.assertEqual(len(closed), len(socks), "slowloris connections left open")
        answered = [s for s, data in received.items() if data]
        self.assertEqual(answered, [], "the server answered an incomplete head")
        slowest = max(closed.values())
        self.assertLess(slowest, HEADER_TIMEOUT_MS / 1000 + CLOSE_SLACK_S)
        self.note("slowloris", "%d connections, 1 byte/s: all closed after %.1f-%.1f s"
                  % (len(socks), min(closed.values()), slowest))

    def attack_huge_headers(self):
        statuses = []
        for _ in range(20):
            big = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n"
            status, body, closed = self.exchange(big, expect_close=True)
            statuses.append(status)
            self.assertEqual(status, 431, body)
            self.assertEqual(json.loads(body)["error"]["type"], "request_header_fields_too_large")
            self.assertTrue(closed)
        many = (b"GET /health HTTP/1.1\r\nHost: x\r\n" +
                b"".join(b"X-H%d: v\r\n" % i for i in range(3000)) + b"\r\n")
        status, _, closed = self.exchange(many, expect_close=True)
        self.assertEqual(status, 431)
        self.assertTrue(closed)
        # 4 MiB of header: answered after 16 KiB, the rest is not read (a reset may hide the
        # answer from this client, which is fine); the server must just go on.
        flood = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Flood: " + b"b" * (4 << 20)
        status, _, _ = self.exchange(flood)
        self.assertIn(status, (431, None))
        self.assertAlive("huge headers")
        self.note("huge headers", "64 KiB value x20, 3000 headers: 431 + close; 4 MiB: %s"
                  % (status if status else "reset after 431"))

    def attack_endless_body(self):
        socks = []
        for _ in range(20):
            sock = self.connect()
            sock.sendall(b"POST /v1/documents HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 10485760\r\n\r\n"
                         b'{"text": "')
            socks.append(sock)
        closed, received = wait_closed(socks, BODY_TIMEOUT_MS / 1000 + CLOSE_SLACK_S + scaled(5),
                                       trickle=b"z", trickle_every_s=0.25)
        for sock in socks:
            sock.close()
        self.assertEqual(len(closed), len(socks), "slow-body connections left open")
        statuses = {status_of(data) for data in received.values() if data}
        self.assertTrue(statuses <= {408}, statuses)
        slowest = max(closed.values())
        self.assertLess(slowest, BODY_TIMEOUT_MS / 1000 + CLOSE_SLACK_S)
        self.note("endless body", "20 x Content-Length 10 MB at 4 B/s: closed after %.1f-%.1f s"
                  % (min(closed.values()), slowest))

    def attack_invalid_utf8(self):
        bodies = [b'{"query": "\xff\xfe\xfd"}', b'{"query": "caf\xc3"}',
                  b'{"query": "\xc0\xaf overlong"}', b'{"query": "\xed\xa0\x80 surrogate"}',
                  b'{"query": "\\ud800 lone escape"}', b'{"query": "\\udfff\\ud800"}',
                  b'{"query": "ok", "filter": {"metadata": {"\xff": "x"}}}',
                  b'{"query": "glacier", "filter": {"metadata": {"k": "\\ud800"}}}']
        requests = []
        for path in (b"/v1/search", b"/v1/query"):
            for body in bodies:
                requests.append(b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                b"application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
                                + body)
        for body in (b'{"id": "\xff\xfe", "text": "bad id"}', b'{"text": "bad \xc3 text"}',
                     b'{"text": "ok", "metadata": {"k": "\xed\xa0\x80"}}'):
            requests.append(b"POST /v1/documents HTTP/1.1\r\nHost: x\r\nContent-Type: "
                            b"application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        for target in (b"/v1/documents/%FF%FE", b"/v1/documents/%C3%28", b"/v1/documents/\xff",
                       b"/health?q=\xff"):
            requests.append(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        requests.append(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Request-Id: \xff\xfe\r\n"
                        b"traceparent: \xc3\x28\r\n\r\n")
        counts = {}
        for data in requests:
            status, body, _ = self.exchange(data)
            self.assertIsNotNone(status, "no answer to %r" % data[:120])
            self.assertLess(status, 500, "%r -> %d %r" % (data[:120], status, body[:200]))
            # Error messages may quote the offending bytes; the JSON must stay valid UTF-8.
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                self.fail("%r -> %d with a body that is not UTF-8: %r" % (data[:120], status,
                                                                          body[:200]))
            counts[status] = counts.get(status, 0) + 1
        self.assertAlive("invalid UTF-8")
        self.note("invalid UTF-8", "%d requests: %s; no 5xx" % (
            len(requests), ", ".join("%d x%d" % item for item in sorted(counts.items()))))

    def attack_deep_json(self):
        bodies = [b"[" * 100000, b'{"query":' + b"[" * 100000, b'{"a":' * 50000,
                  b'{"query": "glacier", "filter": {"metadata": ' + b'{"a":' * 50000]
        counts = {}
        for path in (b"/v1/search", b"/v1/query", b"/v1/documents"):
            for body in bodies:
                status, resp_body, _ = self.exchange(
                    b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                    b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
                self.assertEqual(status, 400, "%s -> %r %r" % (path, status, resp_body[:200]))
                counts[status] = counts.get(status, 0) + 1
        self.assertAlive("deep JSON")
        self.note("deeply nested JSON", "100k '[' / 50k '{\"a\":' on 3 routes: %d x 400"
                  % counts.get(400, 0))

    def attack_abandoned_connections(self):
        # Both ends need a descriptor per connection (ragd inherits this process's limit).
        count = min(ABANDONED_CONNECTIONS, int(self.fd_limit) - 1024)
        baseline_fds = open_fds(self.pid)
        socks = []
        start = time.monotonic()
        address = (self.server.host, self.server.port)
        peak_fds = baseline_fds
        peak_rss = proc_status_bytes(self.pid, "VmRSS")
        # In batches, each connected before the next, so the kernel's listen backlog (not ragd)
        # is not what is measured.
        batch = 1000
        for first in range(0, count, batch):
            pending = []
            for _ in range(first, min(first + batch, count)):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setblocking(False)
                sock.connect_ex(address)
                pending.append(sock)
                socks.append(sock)
            poller = select.poll()
            for sock in pending:
                poller.register(sock.fileno(), select.POLLOUT)
            waiting = len(pending)
            deadline = time.monotonic() + CLIENT_TIMEOUT_S
            while waiting > 0 and time.monotonic() < deadline:
                events = poller.poll(200)
                for fd, _ in events:
                    poller.unregister(fd)
                    waiting -= 1
            peak_fds = max(peak_fds, open_fds(self.pid))
        opened_s = time.monotonic() - start
        failed = sum(1 for sock in socks
                     if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0)
        # The server holds them until the header timeout, then closes every one.
        deadline = time.monotonic() + HEADER_TIMEOUT_MS / 1000 + CLOSE_SLACK_S + CLIENT_TIMEOUT_S
        while time.monotonic() < deadline:
            fds = open_fds(self.pid)
            peak_fds = max(peak_fds, fds)
            peak_rss = max(peak_rss, proc_status_bytes(self.pid, "VmRSS"))
            if fds <= baseline_fds + FD_GROWTH_LIMIT:
                break
            time.sleep(0.2)
        released_s = time.monotonic() - start
        fds_after = open_fds(self.pid)
        for sock in socks:
            sock.close()
        self.assertEqual(failed, 0, "connections refused")
        self.assertGreater(peak_fds, baseline_fds + count // 2,
                           "the server did not hold the connections (were they accepted?)")
        self.assertLessEqual(fds_after, baseline_fds + FD_GROWTH_LIMIT,
                             "the server kept abandoned connections past its header timeout")
        self.assertAlive("abandoned connections")
        self.note("%d abandoned connections" % count,
                  "opened in %.1f s; server fds %d -> peak %d -> %d after %.1f s; peak RSS %.0f MiB"
                  % (opened_s, baseline_fds, peak_fds, fds_after, released_s,
                     peak_rss / 2 ** 20))

    def attack_pipelined_garbage(self):
        sock = self.connect()
        try:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n" * 3 +
                         b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n")
            reader = RawReader(sock, CLIENT_TIMEOUT_S)
            statuses = [reader.read().status for _ in range(4)]
            self.assertEqual(statuses, [200, 200, 200, 400])
            sock.settimeout(CLIENT_TIMEOUT_S)
            try:
                self.assertEqual(reader.buffer + sock.recv(1), b"")
            except ConnectionResetError:
                pass
        finally:
            sock.close()
        # A hundred pipelined requests are answered in order.
        sock = self.connect()
        try:
            sock.sendall(b"".join(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Request-Id: r%d\r\n\r\n"
                                  % i for i in range(100)))
            reader = RawReader(sock, CLIENT_TIMEOUT_S)
            ids = [reader.read().headers.get("x-request-id") for _ in range(100)]
            self.assertEqual(ids, ["r%d" % i for i in range(100)])
        finally:
            sock.close()
        smuggling = [
            b"POST /v1/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"POST /v1/search HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2"
            b"\r\n\r\nab",
            b"POST /v1/search HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
            b"GET /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            b"GET /health HTTP/9.9\r\nHost: x\r\n\r\n", b"\r\n\r\n\r\n", b"GET\r\n\r\n",
        ]
        rng = random.Random(20240611)
        blobs = [bytes(rng.getrandbits(8) for _ in range(4096)) for _ in range(50)]
        counts = {}
        for data in smuggling + blobs:
            status, body, closed = self.exchange(data, expect_close=True)
            key = status if status is not None else "closed"
            counts[key] = counts.get(key, 0) + 1
            if status is not None:
                self.assertLess(status, 500, "%r -> %d %r" % (data[:80], status, body[:200]))
                if status == 400:
                    self.assertTrue(closed, "400 without closing for %r" % data[:80])
        self.assertAlive("pipelined garbage")
        self.note("pipelined garbage",
                  "3 valid + TLS bytes: 200 200 200 400 close; 100 pipelined in order; "
                  "smuggling/junk x%d: %s" % (len(smuggling) + len(blobs), ", ".join(
                      "%s x%d" % (k, v) for k, v in sorted(counts.items(), key=str))))

    # -- the test -------------------------------------------------------------------------------

    def test_hostile_clients(self):
        started = time.monotonic()
        print("\nhostile clients against ragd (pid %d, fd limit %s, time bounds x%g)"
              % (self.pid, self.fd_limit, scaled(1.0)))
        good = GoodClient(self.server.host, self.server.port)
        good.start()
        self.addCleanup(good.stop_event.set)
        time.sleep(1.0)  # the baseline phase: the client alone
        baseline_rss = proc_status_bytes(self.pid, "VmRSS")
        baseline_fds = open_fds(self.pid)

        attacks = [("slowloris", self.attack_slowloris),
                   ("huge headers", self.attack_huge_headers),
                   ("endless body", self.attack_endless_body),
                   ("invalid utf-8", self.attack_invalid_utf8),
                   ("deep json", self.attack_deep_json),
                   ("abandoned connections", self.attack_abandoned_connections),
                   ("pipelined garbage", self.attack_pipelined_garbage)]
        for name, attack in attacks:
            good.phase = name
            attack()
            self.assertAlive(name)
        good.phase = "settle"

        # Settle: connections the attacks left are closed by their timeouts.
        deadline = time.monotonic() + CLIENT_TIMEOUT_S
        while open_fds(self.pid) > baseline_fds + FD_GROWTH_LIMIT and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)
        after_rss = proc_status_bytes(self.pid, "VmRSS")
        after_fds = open_fds(self.pid)
        good.stop_event.set()
        good.join(timeout=CLIENT_TIMEOUT_S + 5)

        attack_phases = {name for name, _ in attacks}
        during = good.latencies(attack_phases)
        print("well-behaved client: %d requests, %d failures; baseline p50 %.1f ms; during "
              "attacks p50 %.1f ms, p99 %.1f ms, max %.1f ms"
              % (len(good.samples), len(good.failures),
                 percentile(good.latencies({"baseline"}), 0.5) * 1000,
                 percentile(during, 0.5) * 1000, percentile(during, 0.99) * 1000,
                 max(during, default=0) * 1000))
        for name, _ in attacks:
            phase = good.latencies({name})
            print("  %-24s %4d requests  p99 %7.1f ms" % (name, len(phase),
                                                         percentile(phase, 0.99) * 1000))
        print("slowest well-behaved requests: %s" % ", ".join(
            "%.0f ms (%s, %s %s, at %.1f s)" % (seconds * 1000, phase, "new" if fresh else "kept",
                                                "search" if search else "health", at)
            for seconds, phase, fresh, search, at in reversed(good.slowest)))
        print("ragd RSS %.1f MiB before, %.1f MiB after; fds %d before, %d after; %.0f s in all"
              % (baseline_rss / 2 ** 20, after_rss / 2 ** 20, baseline_fds, after_fds,
                 time.monotonic() - started), flush=True)

        self.assertEqual(good.failures, [], "the well-behaved client failed")
        self.assertGreater(len(during), 50, "too few well-behaved requests to judge")
        self.assertLess(percentile(during, 0.99), GOOD_P99_LIMIT_S)
        self.assertLess(after_rss, baseline_rss + RSS_GROWTH_LIMIT_BYTES)
        self.assertLessEqual(after_fds, baseline_fds + FD_GROWTH_LIMIT)
        code = self.server.stop()
        self.assertEqual(code, 0, "ragd serve exited %r after SIGTERM\n%s"
                         % (code, self.server.stderr()[-4000:]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
