#!/usr/bin/env python3
# Black-box tests of `ragd mock-llm`: both provider APIs streaming and not (SSE parsed as a
# client would), latency and pacing, every injected error kind, auth errors, /stats seeing a
# client that leaves mid-stream, the seeded error sequence, and a clean exit on SIGTERM/SIGINT.
import http.client
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ragd_harness import clean_env, ragd_bin, run_cli  # noqa: E402

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
IO_TIMEOUT_S = 20.0
# Upper bounds on timing are loose: two cores are shared with compilers during development.
SLACK_S = 3.0

OPENAI_HEADERS = {"Authorization": "Bearer test-key", "Content-Type": "application/json"}
ANTHROPIC_HEADERS = {"x-api-key": "test-key", "anthropic-version": "2023-06-01",
                     "Content-Type": "application/json"}
RAG_PROMPT = ("Use the passages to answer.\n[1] Lighthouses guide ships along rocky coasts.\n"
              "[2] A Fresnel lens focuses the lamp into a beam.\n"
              "Question: how does a lighthouse lens work?")


class MockLlm:
    """`with MockLlm(args) as mock:` runs `ragd mock-llm --listen 127.0.0.1:0 ARGS`; leaving the
    block sends SIGTERM and asserts exit code 0."""

    def __init__(self, args=()):
        self.args = [str(a) for a in args]
        self.proc = None
        self.port = None
        self.stderr_chunks = []

    def __enter__(self):
        argv = [ragd_bin(), "mock-llm", "--listen", "127.0.0.1:0", "--threads", "2"] + self.args
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=clean_env())
        self.drain_thread = threading.Thread(target=self._drain, daemon=True)
        self.drain_thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        buffered = b""
        while b"\n" not in buffered:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.proc.kill()
                raise RuntimeError("no 'listening on' line; stderr: %s" % self.stderr())
            ready, _, _ = select.select([self.proc.stdout], [], [], min(remaining, 0.2))
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    self.proc.wait(timeout=5)
                    raise RuntimeError("mock-llm exited (%s) before listening; stderr: %s"
                                       % (self.proc.returncode, self.stderr()))
                buffered += chunk
        line = buffered.split(b"\n", 1)[0].decode()
        if not line.startswith("listening on 127.0.0.1:"):
            self.proc.kill()
            raise RuntimeError("unexpected first line %r" % line)
        self.port = int(line.rsplit(":", 1)[1])
        self.first_line = line
        self.stdout_rest = buffered.split(b"\n", 1)[1]
        return self

    def _drain(self):
        for chunk in iter(lambda: self.proc.stderr.read1(4096), b""):
            self.stderr_chunks.append(chunk)

    def stderr(self):
        return b"".join(self.stderr_chunks).decode("utf-8", "replace")

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                return self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
                return None
        return self.proc.returncode

    def __exit__(self, exc_type, exc, tb):
        code = self.stop()
        rest = self.stdout_rest + self.proc.stdout.read()
        self.proc.stdout.close()
        self.drain_thread.join(timeout=2)
        self.proc.stderr.close()
        if exc_type is None:
            if code != 0:
                raise AssertionError("mock-llm exited with %r, want 0; stderr: %s"
                                     % (code, self.stderr()))
            if rest.strip():
                raise AssertionError("mock-llm printed more than one line: %r" % rest)
        return False

    # -- HTTP --------------------------------------------------------------------------------

    def connection(self, timeout=IO_TIMEOUT_S):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def post(self, path, body, headers, conn=None):
        """(status, headers, parsed body or raw bytes, elapsed seconds) of one request."""
        own = conn is None
        conn = conn or self.connection()
        try:
            started = time.monotonic()
            conn.request("POST", path, body=json.dumps(body), headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            elapsed = time.monotonic() - started
            hdrs = {k.lower(): v for k, v in resp.getheaders()}
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = raw
            return resp.status, hdrs, parsed, elapsed
        finally:
            if own:
                conn.close()

    def stats(self):
        conn = self.connection()
        try:
            conn.request("GET", "/stats")
            resp = conn.getresponse()
            assert resp.status == 200, resp.status
            return json.loads(resp.read())
        finally:
            conn.close()

    def wait_stats(self, predicate, timeout=10.0):
        """Polls /stats until predicate(stats) holds; returns the last stats either way."""
        deadline = time.monotonic() + timeout
        while True:
            stats = self.stats()
            if predicate(stats) or time.monotonic() > deadline:
                return stats
            time.sleep(0.02)

    def raw_request(self, path, body, headers):
        """A socket on which the request has been sent (the caller reads and closes)."""
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=IO_TIMEOUT_S)
        payload = json.dumps(body).encode()
        lines = ["POST %s HTTP/1.1" % path, "Host: 127.0.0.1", "Content-Length: %d" % len(payload)]
        lines += ["%s: %s" % item for item in headers.items()]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
        return sock


def openai_body(stream=False, content=RAG_PROMPT, **extra):
    body = {"model": "gpt-test", "messages": [{"role": "system", "content": "Be brief."},
                                              {"role": "user", "content": content}]}
    if stream:
        body["stream"] = True
    body.update(extra)
    return body


def anthropic_body(stream=False, content=RAG_PROMPT, **extra):
    body = {"model": "claude-test", "max_tokens": 1024,
            "messages": [{"role": "user", "content": content}]}
    if stream:
        body["stream"] = True
    body.update(extra)
    return body


def read_events(resp, limit=None, stamps=None):
    """Reads SSE events from an http.client response: [(event name or None, data str)]."""
    events = []
    name, data = None, None
    while limit is None or len(events) < limit:
        line = resp.readline()
        if not line:
            break
        line = line.decode("utf-8").rstrip("\n")
        if line == "":
            if data is not None:
                events.append((name, data))
                if stamps is not None:
                    stamps.append(time.monotonic())
            name, data = None, None
        elif line.startswith("event: "):
            name = line[len("event: "):]
        elif line.startswith("data: "):
            data = line[len("data: "):]
        else:
            raise AssertionError("unexpected SSE line %r" % line)
    return events


def open_stream(mock, path, body, headers):
    conn = mock.connection()
    started = time.monotonic()
    conn.request("POST", path, body=json.dumps(body), headers=headers)
    resp = conn.getresponse()
    return conn, resp, started


def recv_until(sock, needle, limit=1 << 20):
    data = b""
    while needle not in data and len(data) < limit:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


class MockLlmTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = MockLlm(["--seed", "7"]).__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.mock.__exit__(None, None, None)

    # -- OpenAI ------------------------------------------------------------------------------

    def test_openai_non_stream_shape_and_determinism(self):
        status, headers, body, _ = self.mock.post("/v1/chat/completions", openai_body(),
                                                  OPENAI_HEADERS)
        self.assertEqual(status, 200, body)
        self.assertIn("application/json", headers["content-type"])
        self.assertEqual(body["object"], "chat.completion")
        self.assertEqual(body["model"], "gpt-test")
        self.assertTrue(body["id"])
        self.assertIsInstance(body["created"], int)
        choice = body["choices"][0]
        self.assertEqual(choice["index"], 0)
        self.assertEqual(choice["message"]["role"], "assistant")
        self.assertEqual(choice["finish_reason"], "stop")
        content = choice["message"]["content"]
        self.assertEqual(len(content.split()), 64 + content.count("["))  # citations add words
        self.assertRegex(content, r"\[[12]\]\.$")
        usage = body["usage"]
        self.assertEqual(usage["completion_tokens"], 64)
        self.assertEqual(usage["total_tokens"], usage["prompt_tokens"] + 64)
        self.assertGreater(usage["prompt_tokens"], 10)
        _, _, again, _ = self.mock.post("/v1/chat/completions", openai_body(), OPENAI_HEADERS)
        self.assertEqual(again["choices"][0]["message"]["content"], content)
        self.assertNotEqual(again["id"], body["id"])
        _, _, other, _ = self.mock.post("/v1/chat/completions",
                                        openai_body(content="something else entirely"),
                                        OPENAI_HEADERS)
        self.assertNotEqual(other["choices"][0]["message"]["content"], content)
        self.assertNotIn("[", other["choices"][0]["message"]["content"])

    def test_openai_stream_rebuilds_the_same_text(self):
        _, _, plain, _ = self.mock.post("/v1/chat/completions", openai_body(), OPENAI_HEADERS)
        conn, resp, _ = open_stream(self.mock, "/v1/chat/completions",
                                    openai_body(stream=True,
                                                stream_options={"include_usage": True}),
                                    OPENAI_HEADERS)
        try:
            self.assertEqual(resp.status, 200)
            self.assertIn("text/event-stream", resp.getheader("Content-Type"))
            events = read_events(resp)
        finally:
            conn.close()
        self.assertTrue(all(name is None for name, _ in events))
        self.assertEqual(events[-1][1], "[DONE]")
        chunks = [json.loads(data) for _, data in events[:-1]]
        for chunk in chunks:
            self.assertEqual(chunk["object"], "chat.completion.chunk")
            self.assertEqual(chunk["model"], "gpt-test")
        self.assertEqual(chunks[0]["choices"][0]["delta"]["role"], "assistant")
        text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks
                       if c["choices"])
        self.assertEqual(text, plain["choices"][0]["message"]["content"])
        deltas = [c for c in chunks[1:] if c["choices"] and c["choices"][0]["delta"]]
        self.assertEqual(len(deltas), 64)
        for delta in deltas:
            self.assertIsNone(delta["choices"][0]["finish_reason"])
        self.assertEqual(chunks[-2]["choices"][0]["finish_reason"], "stop")
        self.assertEqual(chunks[-1]["choices"], [])
        self.assertEqual(chunks[-1]["usage"]["completion_tokens"], 64)

    def test_openai_stream_without_usage_and_max_tokens_cap(self):
        conn, resp, _ = open_stream(self.mock, "/v1/chat/completions",
                                    openai_body(stream=True, max_tokens=5), OPENAI_HEADERS)
        try:
            events = read_events(resp)
        finally:
            conn.close()
        chunks = [json.loads(data) for _, data in events[:-1]]
        self.assertEqual(events[-1][1], "[DONE]")
        self.assertEqual(len(chunks), 1 + 5 + 1)  # role, tokens, finish (no usage chunk)
        self.assertEqual(chunks[-1]["choices"][0]["finish_reason"], "length")

    def test_keep_alive_serves_many_requests_on_one_connection(self):
        before = self.mock.stats()["connections_accepted"]
        conn = self.mock.connection()
        try:
            for _ in range(3):
                status, _, _, _ = self.mock.post("/v1/chat/completions", openai_body(),
                                                 OPENAI_HEADERS, conn=conn)
                self.assertEqual(status, 200)
            conn.request("POST", "/v1/chat/completions", body=json.dumps(openai_body(True)),
                         headers=OPENAI_HEADERS)
            resp = conn.getresponse()
            self.assertEqual(read_events(resp)[-1][1], "[DONE]")
            status, _, _, _ = self.mock.post("/v1/messages", anthropic_body(),
                                             ANTHROPIC_HEADERS, conn=conn)
            self.assertEqual(status, 200)
        finally:
            conn.close()
        # This test's connection plus the /stats connections.
        self.assertEqual(self.mock.stats()["connections_accepted"] - before, 2)

    # -- Anthropic ---------------------------------------------------------------------------

    def test_anthropic_non_stream_shape(self):
        status, _, body, _ = self.mock.post("/v1/messages", anthropic_body(), ANTHROPIC_HEADERS)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["type"], "message")
        self.assertEqual(body["role"], "assistant")
        self.assertEqual(body["model"], "claude-test")
        self.assertEqual(body["stop_reason"], "end_turn")
        self.assertEqual(body["content"][0]["type"], "text")
        self.assertRegex(body["content"][0]["text"], r"\[[12]\]\.$")
        self.assertEqual(body["usage"]["output_tokens"], 64)
        self.assertGreater(body["usage"]["input_tokens"], 10)

    def test_anthropic_stream_event_sequence(self):
        _, _, plain, _ = self.mock.post("/v1/messages", anthropic_body(), ANTHROPIC_HEADERS)
        conn, resp, _ = open_stream(self.mock, "/v1/messages", anthropic_body(stream=True),
                                    ANTHROPIC_HEADERS)
        try:
            self.assertEqual(resp.status, 200)
            self.assertIn("text/event-stream", resp.getheader("Content-Type"))
            events = read_events(resp)
        finally:
            conn.close()
        names = [name for name, _ in events]
        self.assertEqual(names[:3], ["message_start", "content_block_start", "ping"])
        self.assertEqual(names[3:-3], ["content_block_delta"] * 64)
        self.assertEqual(names[-3:], ["content_block_stop", "message_delta", "message_stop"])
        payloads = [json.loads(data) for _, data in events]
        for name, payload in zip(names, payloads):
            self.assertEqual(payload["type"], name)
        self.assertEqual(payloads[0]["message"]["role"], "assistant")
        text = "".join(p["delta"]["text"] for p in payloads[3:-3])
        self.assertTrue(all(p["delta"]["type"] == "text_delta" for p in payloads[3:-3]))
        self.assertEqual(text, plain["content"][0]["text"])
        self.assertEqual(payloads[-2]["delta"]["stop_reason"], "end_turn")
        self.assertEqual(payloads[-2]["usage"]["output_tokens"], 64)

    # -- auth and validation -----------------------------------------------------------------

    def test_auth_errors_have_provider_shapes(self):
        for headers in ({"Content-Type": "application/json"},
                        {"Authorization": "Bearer ", "Content-Type": "application/json"},
                        {"Authorization": "Basic abc", "Content-Type": "application/json"}):
            status, _, body, _ = self.mock.post("/v1/chat/completions", openai_body(), headers)
            self.assertEqual(status, 401, headers)
            self.assertTrue(body["error"]["message"])
            self.assertIn("type", body["error"])
            self.assertIn("code", body["error"])
        no_key = dict(ANTHROPIC_HEADERS)
        del no_key["x-api-key"]
        status, _, body, _ = self.mock.post("/v1/messages", anthropic_body(), no_key)
        self.assertEqual(status, 401)
        self.assertEqual(body["type"], "error")
        self.assertEqual(body["error"]["type"], "authentication_error")
        no_version = dict(ANTHROPIC_HEADERS)
        del no_version["anthropic-version"]
        status, _, body, _ = self.mock.post("/v1/messages", anthropic_body(), no_version)
        self.assertEqual(status, 400)
        self.assertEqual(body["error"]["type"], "invalid_request_error")

    def test_bad_requests_and_routes(self):
        status, _, body, _ = self.mock.post("/v1/chat/completions", {"model": "m"},
                                            OPENAI_HEADERS)
        self.assertEqual(status, 400)
        self.assertIn("messages", body["error"]["message"])
        headers = dict(OPENAI_HEADERS, **{"x-mock-latency-ms": "soon"})
        status, _, body, _ = self.mock.post("/v1/chat/completions", openai_body(), headers)
        self.assertEqual(status, 400)
        self.assertIn("x-mock-latency-ms", body["error"]["message"])
        status, _, _, _ = self.mock.post("/v1/nothing", {}, OPENAI_HEADERS)
        self.assertEqual(status, 404)
        conn = self.mock.connection()
        try:
            conn.request("GET", "/v1/chat/completions")
            resp = conn.getresponse()
            resp.read()
            self.assertEqual(resp.status, 405)
            conn.request("GET", "/health")
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            self.assertEqual(json.loads(resp.read())["status"], "ok")
        finally:
            conn.close()

    # -- timing ------------------------------------------------------------------------------

    def test_latency_is_honoured(self):
        headers = dict(OPENAI_HEADERS, **{"x-mock-latency-ms": "300"})
        status, _, _, elapsed = self.mock.post("/v1/chat/completions", openai_body(), headers)
        self.assertEqual(status, 200)
        self.assertGreaterEqual(elapsed, 0.29)
        self.assertLess(elapsed, 0.3 + SLACK_S)
        conn, resp, started = open_stream(self.mock, "/v1/messages", anthropic_body(True),
                                          dict(ANTHROPIC_HEADERS, **{"x-mock-latency-ms": "300"}))
        try:
            first = read_events(resp, limit=1)
            first_at = time.monotonic() - started
            self.assertEqual(first[0][0], "message_start")
            rest = read_events(resp)
        finally:
            conn.close()
        self.assertGreaterEqual(first_at, 0.29)
        self.assertLess(first_at, 0.3 + SLACK_S)
        self.assertEqual(rest[-1][0], "message_stop")
        _, _, _, fast = self.mock.post("/v1/chat/completions", openai_body(), OPENAI_HEADERS)
        self.assertLess(fast, 0.25)

    def test_tokens_per_second_paces_the_stream(self):
        headers = dict(OPENAI_HEADERS, **{"x-mock-tokens-per-second": "20",
                                          "x-mock-output-tokens": "11"})
        conn, resp, _ = open_stream(self.mock, "/v1/chat/completions", openai_body(True),
                                    headers)
        stamps = []
        try:
            events = read_events(resp, stamps=stamps)
        finally:
            conn.close()
        token_stamps = stamps[1:12]  # after the role chunk; 11 tokens at 20/s span 0.5 s
        self.assertEqual(len(events), 1 + 11 + 1 + 1)
        span = token_stamps[-1] - token_stamps[0]
        self.assertGreaterEqual(span, 0.45)
        self.assertLess(span, 0.5 + SLACK_S)
        gaps = [b - a for a, b in zip(token_stamps, token_stamps[1:])]
        self.assertGreater(sorted(gaps)[len(gaps) // 2], 0.02)  # paced, not one burst
        # Non-streaming: latency + tokens / tps = 0.1 + 10 / 20.
        headers = dict(OPENAI_HEADERS, **{"x-mock-tokens-per-second": "20",
                                          "x-mock-output-tokens": "10",
                                          "x-mock-latency-ms": "100"})
        status, _, _, elapsed = self.mock.post("/v1/chat/completions", openai_body(), headers)
        self.assertEqual(status, 200)
        self.assertGreaterEqual(elapsed, 0.59)
        self.assertLess(elapsed, 0.6 + SLACK_S)

    # -- injected errors ---------------------------------------------------------------------

    def test_injected_500_and_429(self):
        for path, body, headers in (("/v1/chat/completions", openai_body(True), OPENAI_HEADERS),
                                    ("/v1/messages", anthropic_body(), ANTHROPIC_HEADERS)):
            status, _, error, _ = self.mock.post(path, body,
                                                 dict(headers, **{"x-mock-error": "500"}))
            self.assertEqual(status, 500)
            if path == "/v1/messages":
                self.assertEqual(error["type"], "error")
                self.assertEqual(error["error"]["type"], "api_error")
            else:
                self.assertEqual(error["error"]["type"], "server_error")
            status, hdrs, error, _ = self.mock.post(path, body,
                                                    dict(headers, **{"x-mock-error": "429"}))
            self.assertEqual(status, 429)
            self.assertEqual(hdrs["retry-after"], "1")
            self.assertEqual(hdrs["retry-after-ms"], "1000")
            self.assertIn("error", error)

    def test_injected_reset_sends_a_few_tokens_then_rst(self):
        before = self.mock.stats()["errors_injected"]["reset"]
        sock = self.mock.raw_request("/v1/chat/completions", openai_body(True),
                                     dict(OPENAI_HEADERS, **{"x-mock-error": "reset"}))
        received = b""
        with sock:
            with self.assertRaises(ConnectionResetError):
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break  # a FIN instead of RST fails assertRaises
                    received += chunk
        self.assertTrue(received.startswith(b"HTTP/1.1 200"), received[:100])
        self.assertGreaterEqual(received.count(b'"content":"'), 2)
        self.assertNotIn(b"[DONE]", received)
        # Non-streaming: half a body, then RST.
        sock = self.mock.raw_request("/v1/messages", anthropic_body(),
                                     dict(ANTHROPIC_HEADERS, **{"x-mock-error": "reset"}))
        with sock:
            with self.assertRaises(ConnectionResetError):
                while sock.recv(65536):
                    pass
        self.assertEqual(self.mock.stats()["errors_injected"]["reset"] - before, 2)

    def test_injected_stall_holds_until_the_client_leaves(self):
        before = self.mock.stats()
        sock = self.mock.raw_request("/v1/chat/completions", openai_body(True),
                                     dict(OPENAI_HEADERS, **{"x-mock-error": "stall"}))
        with sock:
            received = recv_until(sock, b"\r\n\r\n")
            self.assertTrue(received.startswith(b"HTTP/1.1 200"), received[:100])
            sock.settimeout(0.2)
            deadline = time.monotonic() + 0.8
            while time.monotonic() < deadline:
                try:
                    chunk = sock.recv(65536)
                except socket.timeout:
                    continue
                self.assertTrue(chunk, "stalled stream was closed by the server")
                received += chunk
            self.assertEqual(received.count(b'"content":"'), 1 + 2)  # role chunk + 2 tokens
            self.assertNotIn(b"[DONE]", received)
            during = self.mock.stats()
            self.assertEqual(during["streams_in_flight"], 1)
        after = self.mock.wait_stats(
            lambda s: s["client_closed_mid_stream"] > before["client_closed_mid_stream"])
        self.assertEqual(after["client_closed_mid_stream"] - before["client_closed_mid_stream"], 1)
        self.assertEqual(after["streams_in_flight"], 0)
        self.assertEqual(after["errors_injected"]["stall"] - before["errors_injected"]["stall"], 1)
        # Non-streaming: nothing at all, until the client leaves.
        sock = self.mock.raw_request("/v1/chat/completions", openai_body(),
                                     dict(OPENAI_HEADERS, **{"x-mock-error": "stall"}))
        with sock:
            sock.settimeout(0.5)
            with self.assertRaises(socket.timeout):
                sock.recv(1)
        after = self.mock.wait_stats(lambda s: s["client_closed_before_response"] >
                                     before["client_closed_before_response"])
        self.assertEqual(after["client_closed_before_response"] -
                         before["client_closed_before_response"], 1)
        self.assertEqual(after["requests_in_flight"], 0)

    # -- disconnects -------------------------------------------------------------------------

    def test_stats_count_a_client_that_leaves_mid_stream(self):
        before = self.mock.stats()
        sock = self.mock.raw_request("/v1/messages", anthropic_body(True),
                                     dict(ANTHROPIC_HEADERS, **{"x-mock-tokens-per-second": "2",
                                                                "x-mock-output-tokens": "60"}))
        with sock:
            recv_until(sock, b"content_block_delta")
            during = self.mock.stats()
            self.assertEqual(during["streams_in_flight"], 1)
            self.assertGreaterEqual(during["connections_open"], 2)  # the stream and /stats
        left_at = time.monotonic()
        after = self.mock.wait_stats(
            lambda s: s["client_closed_mid_stream"] > before["client_closed_mid_stream"] and
            s["streams_in_flight"] == 0 and s["connections_open"] == 1)
        noticed_s = time.monotonic() - left_at
        self.assertEqual(after["client_closed_mid_stream"] - before["client_closed_mid_stream"], 1)
        self.assertEqual(after["streams_in_flight"], 0)
        self.assertEqual(after["connections_open"], 1)
        # 60 tokens at 2/s would take 30 s: the disconnect, not the end, freed the stream.
        self.assertLess(noticed_s, 5.0)
        self.assertLess(after["tokens_sent"] - before["tokens_sent"], 20)

    def test_client_that_leaves_during_latency_is_counted(self):
        before = self.mock.stats()
        sock = self.mock.raw_request("/v1/chat/completions", openai_body(),
                                     dict(OPENAI_HEADERS, **{"x-mock-latency-ms": "60000"}))
        self.mock.wait_stats(lambda s: s["requests_in_flight"] >= 1)
        sock.close()
        after = self.mock.wait_stats(
            lambda s: s["client_closed_before_response"] > before["client_closed_before_response"]
            and s["requests_in_flight"] == 0)
        self.assertEqual(after["client_closed_before_response"] -
                         before["client_closed_before_response"], 1)
        self.assertEqual(after["requests_in_flight"], 0)


class MockLlmProcessTest(unittest.TestCase):
    def test_error_rate_sequence_is_seeded(self):
        def statuses(seed):
            with MockLlm(["--seed", seed, "--error-rate", "0.5", "--error-kinds", "500,429"]) \
                    as mock:
                conn = mock.connection()
                try:
                    return [mock.post("/v1/chat/completions", openai_body(), OPENAI_HEADERS,
                                      conn=conn)[0] for _ in range(40)]
                finally:
                    conn.close()
        first = statuses(11)
        self.assertEqual(first, statuses(11))
        self.assertNotEqual(first, statuses(12))
        self.assertEqual(set(first), {200, 429, 500})
        self.assertGreater(first.count(200), 5)
        self.assertGreater(40 - first.count(200), 5)

    def test_error_rate_one_and_the_none_override(self):
        with MockLlm(["--error-rate", "1", "--error-kinds", "429"]) as mock:
            status, _, _, _ = mock.post("/v1/messages", anthropic_body(), ANTHROPIC_HEADERS)
            self.assertEqual(status, 429)
            status, _, _, _ = mock.post("/v1/messages", anthropic_body(),
                                        dict(ANTHROPIC_HEADERS, **{"x-mock-error": "none"}))
            self.assertEqual(status, 200)
            stats = mock.stats()
            self.assertEqual(stats["errors_injected"]["429"], 1)
            self.assertEqual(stats["requests"]["messages"], 2)

    def test_options_flags_apply(self):
        with MockLlm(["--output-tokens", "9", "--latency-ms", "200"]) as mock:
            _, _, body, elapsed = mock.post("/v1/chat/completions", openai_body(),
                                            OPENAI_HEADERS)
            self.assertEqual(body["usage"]["completion_tokens"], 9)
            self.assertGreaterEqual(elapsed, 0.19)

    def test_sigterm_and_sigint_exit_cleanly_with_open_streams(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            mock = MockLlm().__enter__()
            socks = [mock.raw_request("/v1/chat/completions", openai_body(True),
                                      dict(OPENAI_HEADERS, **{"x-mock-error": "stall"}))
                     for _ in range(3)]
            try:
                mock.wait_stats(lambda s: s["streams_in_flight"] == 3)
                started = time.monotonic()
                self.assertEqual(mock.stop(sig), 0, mock.stderr())
                self.assertLess(time.monotonic() - started, STOP_TIMEOUT_S)
            finally:
                for sock in socks:
                    sock.close()
                mock.__exit__(None, None, None)

    def test_invalid_options_exit_with_a_message(self):
        for args, needle in ((["--error-rate", "2"], "--error-rate"),
                             (["--error-kinds", "500,503"], "503"),
                             (["--listen", "nowhere"], "nowhere"),
                             (["--output-tokens", "0"], "--output-tokens")):
            result = run_cli("mock-llm", *args, timeout=30)
            self.assertEqual(result.returncode, 1, result)
            self.assertIn(needle, result.stderr, result)
            self.assertEqual(result.stdout, "", result)


if __name__ == "__main__":
    unittest.main(verbosity=2)
