#!/usr/bin/env python3
# Black-box tests of ragd answering through real LLM upstreams (`ragd mock-llm` and a small TLS
# server): both dialects streamed and not, timeouts, retries, Retry-After, the circuit breaker
# opening and closing, a named fallback upstream from TOML, the bulkhead, client disconnects
# reaching the upstream, resets mid-stream, descriptor stability over 2,000 queries, Amazon Bedrock
# (SigV4 checked by the mock, with static keys or temporary credentials from a container
# credentials endpoint, refreshed; API keys, throttling, resets), TLS with a private CA, and API
# keys never leaking. Python 3 stdlib only.
import http.client
import http.server
import json
import os
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ragd_harness import (DATA_DIR, MockLlm, RagdServer, clean_env, ragd_bin,  # noqa: E402
                          run_cli, wait_for)

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
IO_TIMEOUT_S = 20.0

# Distinctive key values: none of them may ever appear in ragd's output or responses.
OPENAI_KEY = "sk-ragdit-OPENAI-5e1f0c9d7a3b"
ANTHROPIC_KEY = "ant-ragdit-ANTHROPIC-8c2d4e6f"
BACKUP_KEY = "sk-ragdit-BACKUP-41b7e9a0"
AWS_KEY_ID = "AKIDRAGDIT0EXAMPLE"
AWS_SECRET = "ragdit/AWS+SECRET/3f9c1e7b5d"
AWS_SESSION = "ragdit-AWS-SESSION-7e2a"
BEDROCK_API_KEY = "ABSKragdit-BEDROCK-9b3d"
# What a container credentials endpoint (ECS task role, EKS Pod Identity) wants and hands out.
CONTAINER_TOKEN = "ragdit-CONTAINER-AUTH-51d3"
AWS_TEMP_SESSION = "ragdit-TEMP-SESSION-0c4f"
SECRETS = (OPENAI_KEY, ANTHROPIC_KEY, BACKUP_KEY, AWS_SECRET, AWS_SESSION, BEDROCK_API_KEY,
           CONTAINER_TOKEN, AWS_TEMP_SESSION)

QUESTION = "How does a lighthouse lens focus the light?"

CORPUS = os.path.join(DATA_DIR, "corpus")
SHARED = {}


def setUpModule():
    # One data dir, ingested once; the servers below run one at a time and reuse it.
    SHARED["tmp"] = tempfile.mkdtemp(prefix="ragd-it-llm-")
    SHARED["data"] = os.path.join(SHARED["tmp"], "data")
    paths = [os.path.join(CORPUS, name) for name in ("lighthouse.md", "sourdough.txt", "guides")]
    result = run_cli("ingest", "--data", SHARED["data"], *paths)
    if result.returncode != 0:
        raise AssertionError("ingest failed: %r" % (result,))


def tearDownModule():
    shutil.rmtree(SHARED.pop("tmp", ""), ignore_errors=True)


def assert_no_secret(testcase, text, where):
    for secret in SECRETS:
        testcase.assertNotIn(secret, text, "API key leaked into %s" % where)


def free_dead_port():
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- ragd ----------------------------------------------------------------------------------------


class LlmRagd(RagdServer):
    """RagdServer on the shared data dir that keeps its whole stdout for the secrecy check."""

    def __init__(self, llm=None, env=None, args=()):
        # Debug logging: the most ragd ever writes, all of it checked for keys.
        # The answer cache off: these tests repeat questions and must reach the upstream.
        full_env = {"RAGD_SERVER_DRAIN_DELAY_MS": "0", "RAGD_LOG_LEVEL": "debug",
                    "RAGD_CACHE_L1_MAX_BYTES": "0",
                    "OPENAI_API_KEY": OPENAI_KEY, "ANTHROPIC_API_KEY": ANTHROPIC_KEY}
        for key, value in (llm or {}).items():
            full_env["RAGD_LLM_" + key.upper()] = str(value)
        full_env.update(env or {})
        super().__init__(args=args, env=full_env, data_dir=SHARED["data"])
        self.stdout_tail = b""

    def _release(self):
        try:
            self.stdout_tail = getattr(self, "stdout_rest", b"") + self.proc.stdout.read()
        except (OSError, ValueError):
            pass
        super()._release()

    def output(self):
        return self.stdout_tail.decode("utf-8", "replace") + "\n" + self.stderr()


class LlmTestCase(unittest.TestCase):
    """Helpers to query ragd and check every response for leaked keys."""

    def start_ragd(self, llm=None, env=None, args=()):
        server = LlmRagd(llm=llm, env=env, args=args)
        server.start()
        self.addCleanup(self.stop_ragd, server)
        return server

    def stop_ragd(self, server):
        code = server.stop()
        assert_no_secret(self, server.output(), "ragd's stdout/stderr")
        self.assertEqual(code, 0, "ragd exited with %r after SIGTERM\n%s" % (code, server.stderr()))

    def start_mock(self, args=(), port=0, env=None):
        mock = MockLlm(args, port, env).start()
        self.addCleanup(mock.stop)
        return mock

    def query(self, server, conn=None, **extra):
        """Non-streamed POST /v1/query: (parsed body, elapsed seconds); asserts 200."""
        body = {"query": QUESTION, "top_k": 3}
        body.update(extra)
        started = time.monotonic()
        resp = server.post("/v1/query", body, conn=conn)
        elapsed = time.monotonic() - started
        self.assertEqual(resp.status, 200, resp)
        assert_no_secret(self, json.dumps(resp.body), "a query response")
        return resp.body, elapsed

    def stream_query(self, server, **extra):
        """Streamed POST /v1/query: ([(event, data)], elapsed seconds); asserts 200 + SSE."""
        body = {"query": QUESTION, "top_k": 3, "stream": True}
        body.update(extra)
        conn = server.connection()
        try:
            started = time.monotonic()
            conn.request("POST", "/v1/query", body=json.dumps(body),
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            self.assertIn("text/event-stream", resp.getheader("Content-Type", ""))
            events = read_events(resp)
            elapsed = time.monotonic() - started
        finally:
            conn.close()
        for _, data in events:
            assert_no_secret(self, json.dumps(data), "a streamed event")
        return events, elapsed

    def assert_upstream_answer(self, body, generator, model=None):
        self.assertEqual(body["generator"], generator, body)
        if model is not None:
            self.assertEqual(body["model"], model)
        self.assertEqual(body["fallbacks"], [])
        self.assertGreaterEqual(body["upstream_attempts"], 1)
        self.assertIsNotNone(body["usage"], body)
        self.assertGreater(body["usage"]["prompt_tokens"], 0)
        self.assertGreater(body["usage"]["completion_tokens"], 0)
        self.assertTrue(body["answer"])
        self.assertTrue(body["cited"], "the mock cites the numbered passages it was given")
        for number in body["cited"]:
            self.assertIn("[%d]" % number, body["answer"])

    def assert_streamed(self, events, generator):
        """sources first, then deltas, then done; returns the done payload."""
        names = [name for name, _ in events]
        self.assertGreaterEqual(len(events), 3, names)
        self.assertEqual(names[0], "sources", names)
        self.assertTrue(events[0][1]["sources"])
        self.assertEqual(names[-1], "done", names)
        self.assertEqual(set(names[1:-1]), {"delta"}, names)
        done = events[-1][1]
        self.assertEqual(done["generator"], generator, done)
        text = "".join(data["text"] for name, data in events if name == "delta")
        self.assertEqual(text, done["answer"])
        source_numbers = {source["n"] for source in events[0][1]["sources"]}
        self.assertTrue(set(done["cited"]) <= source_numbers, (done["cited"], source_numbers))
        return done


def read_events(resp):
    """SSE events of an http.client response as [(event name, parsed data)]."""
    events = []
    name, data = None, None
    while True:
        line = resp.readline()
        if not line:
            break
        line = line.decode("utf-8").rstrip("\r\n")
        if line == "":
            if data is not None:
                events.append((name, json.loads(data)))
            name, data = None, None
        elif line.startswith("event: "):
            name = line[len("event: "):]
        elif line.startswith("data: "):
            data = line[len("data: "):] if data is None else data + "\n" + line[len("data: "):]
        else:
            raise AssertionError("unexpected SSE line %r" % line)
    return events


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


# -- dialects ------------------------------------------------------------------------------------


class OpenAiTest(LlmTestCase):
    def setUp(self):
        self.mock = self.start_mock(["--seed", "7"])
        self.server = self.start_ragd({"provider": "openai", "base_url": self.mock.url,
                                       "model": "gpt-it"})

    def test_dialect_stream_and_descriptors(self):
        body, _ = self.query(self.server)
        self.assert_upstream_answer(body, "openai", "gpt-it")
        self.assertEqual(body["upstream_attempts"], 1)
        self.assertTrue(body["sources"])

        events, _ = self.stream_query(self.server)
        done = self.assert_streamed(events, "openai")
        self.assert_upstream_answer(done, "openai", "gpt-it")
        self.assertGreater(done["timings_ms"]["llm_first_token"], 0)

        stats = self.mock.stats()
        self.assertEqual(stats["auth_failures"], 0, "the key reached the upstream")
        for path in ("/ready", "/metrics", "/v1/stats"):
            resp = self.server.request("GET", path)
            text = resp.body if isinstance(resp.body, bytes) else json.dumps(resp.body).encode()
            assert_no_secret(self, text.decode("utf-8", "replace"), "GET " + path)
        self.assertEqual(stats["bad_requests"], 0)
        self.assertEqual(stats["requests"]["chat_completions"], 2)

        # 2,000 sequential queries on one keep-alive connection: ragd's descriptors (client
        # and upstream connections, files) must not grow.
        conn = self.server.connection()
        self.addCleanup(conn.close)
        for _ in range(20):
            self.query(self.server, conn=conn)
        before = open_fds(self.server.proc.pid)
        started = time.monotonic()
        for index in range(2000):
            resp = self.server.post("/v1/query", {"query": QUESTION, "top_k": 2}, conn=conn)
            self.assertEqual(resp.status, 200, resp)
            if index % 500 == 0:
                self.assertEqual(resp.body["generator"], "openai", resp.body)
        elapsed = time.monotonic() - started
        after = open_fds(self.server.proc.pid)
        self.assertLessEqual(after, before + 4, "descriptors grew from %d to %d" % (before, after))
        self.assertLess(elapsed, 60.0)
        self.assertEqual(self.mock.stats()["auth_failures"], 0)


class PrintConfigTest(LlmTestCase):
    def test_print_config_shows_no_key(self):
        result = run_cli("serve", "--data", SHARED["data"], "--print-config",
                         env={"RAGD_LLM_PROVIDER": "openai", "OPENAI_API_KEY": OPENAI_KEY})
        self.assertEqual(result.returncode, 0, result)
        self.assertIn("openai", result.stdout)
        assert_no_secret(self, result.stdout + result.stderr, "--print-config")


class AnthropicTest(LlmTestCase):
    def test_dialect_stream_and_non_stream(self):
        mock = self.start_mock(["--seed", "11"])
        server = self.start_ragd({"provider": "anthropic", "base_url": mock.url,
                                  "model": "claude-it", "api_key_env": "IT_ANTHROPIC_KEY"},
                                 env={"IT_ANTHROPIC_KEY": ANTHROPIC_KEY})
        body, _ = self.query(server)
        self.assert_upstream_answer(body, "anthropic", "claude-it")

        events, _ = self.stream_query(server)
        done = self.assert_streamed(events, "anthropic")
        self.assert_upstream_answer(done, "anthropic", "claude-it")

        stats = mock.stats()
        self.assertEqual(stats["requests"]["messages"], 2)
        self.assertEqual(stats["requests"]["chat_completions"], 0)
        self.assertEqual(stats["auth_failures"], 0)
        self.assertEqual(stats["bad_requests"], 0)


class ContainerCredentials(http.server.BaseHTTPRequestHandler):
    """A container credentials endpoint: to a GET with the expected Authorization token it hands
    out temporary credentials whose secret is AWS_SECRET (the one the mock verifies with), a new
    key id and session token each time, expiring after the next of `lifetimes` (seconds; the
    last one repeats)."""
    protocol_version = "HTTP/1.1"
    lifetimes = [3600]
    seen = []  # Authorization header of each request, in order

    def do_GET(self):  # noqa: N802 - http.server's naming
        ContainerCredentials.seen.append(self.headers.get("Authorization"))
        if self.path != "/v1/credentials" or self.headers.get("Authorization") != CONTAINER_TOKEN:
            self.answer(401, {"code": "Unauthorized", "message": "wrong token"})
            return
        index = len(ContainerCredentials.seen) - 1
        lifetime = ContainerCredentials.lifetimes[min(index, len(ContainerCredentials.lifetimes) - 1)]
        self.answer(200, {
            "AccessKeyId": "ASIARAGDIT%d" % index, "SecretAccessKey": AWS_SECRET,
            "Token": "%s-%d" % (AWS_TEMP_SESSION, index),
            "Expiration": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + lifetime))})

    def answer(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class BedrockTest(LlmTestCase):
    MODEL = "anthropic.claude-it-v1:0"

    def start_container_endpoint(self, lifetimes):
        """Serves ContainerCredentials on 127.0.0.1; returns its credentials URL."""
        ContainerCredentials.lifetimes = lifetimes
        ContainerCredentials.seen = []
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ContainerCredentials)
        httpd.daemon_threads = True
        thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                  daemon=True)
        thread.start()
        self.addCleanup(httpd.server_close)
        self.addCleanup(httpd.shutdown)
        return "http://127.0.0.1:%d/v1/credentials" % httpd.server_address[1]

    def aws_env(self, **extra):
        env = {"AWS_ACCESS_KEY_ID": AWS_KEY_ID, "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
               "AWS_SESSION_TOKEN": AWS_SESSION}
        env.update(extra)
        return env

    def test_sigv4_signed_converse_and_stream(self):
        # The mock recomputes every signature from the request as it arrived, with the secret.
        mock = self.start_mock(["--seed", "5", "--verify-sigv4"],
                               env={"AWS_SECRET_ACCESS_KEY": AWS_SECRET})
        server = self.start_ragd({"provider": "bedrock", "base_url": mock.url,
                                  "model": self.MODEL, "aws_region": "eu-west-3"},
                                 env=self.aws_env())
        body, _ = self.query(server)
        self.assert_upstream_answer(body, "bedrock", self.MODEL)
        self.assertEqual(body["upstream_attempts"], 1)

        events, _ = self.stream_query(server)
        done = self.assert_streamed(events, "bedrock")
        self.assert_upstream_answer(done, "bedrock", self.MODEL)

        stats = mock.stats()
        self.assertEqual(stats["requests"]["converse"], 2)
        self.assertEqual(stats["auth_failures"], 0, "the mock accepted both signatures")
        self.assertEqual(stats["bad_requests"], 0)

    def test_wrong_secret_is_refused_and_falls_back(self):
        mock = self.start_mock(["--verify-sigv4"], env={"AWS_SECRET_ACCESS_KEY": "another"})
        server = self.start_ragd({"provider": "bedrock", "base_url": mock.url,
                                  "aws_region": "us-east-1", "max_attempts": 1},
                                 env=self.aws_env())
        body, _ = self.query(server)
        self.assertEqual(body["generator"], "extractive", body)
        self.assertIn("403", body["fallbacks"][0], body)
        self.assertIn("signature", body["fallbacks"][0], body)
        self.assertGreaterEqual(mock.stats()["auth_failures"], 1)

    def test_api_key_region_from_environment(self):
        mock = self.start_mock()
        server = self.start_ragd({"provider": "bedrock", "base_url": mock.url},
                                 env={"AWS_BEARER_TOKEN_BEDROCK": BEDROCK_API_KEY,
                                      "AWS_REGION": "us-west-2"})
        events, _ = self.stream_query(server)
        done = self.assert_streamed(events, "bedrock")
        self.assertEqual(done["model"], "anthropic.claude-3-haiku-20240307-v1:0")
        self.assertEqual(mock.stats()["auth_failures"], 0)

    def test_throttling_is_retried_then_falls_back(self):
        # Every request throttled (429 + ThrottlingException): retried, then extractive.
        mock = self.start_mock(["--error-rate", "1", "--error-kinds", "429"])
        server = self.start_ragd({"provider": "bedrock", "base_url": mock.url,
                                  "aws_region": "us-east-1", "max_attempts": 2},
                                 env={"AWS_BEARER_TOKEN_BEDROCK": BEDROCK_API_KEY})
        body, _ = self.query(server)
        self.assertEqual(body["generator"], "extractive", body)
        self.assertIn("429", body["fallbacks"][0], body)
        self.assertEqual(body["upstream_attempts"], 2, body)

    def test_reset_mid_stream_ends_with_an_error_event(self):
        mock = self.start_mock(["--error-rate", "1", "--error-kinds", "reset"])
        server = self.start_ragd({"provider": "bedrock", "base_url": mock.url,
                                  "aws_region": "us-east-1"},
                                 env={"AWS_BEARER_TOKEN_BEDROCK": BEDROCK_API_KEY})
        events, _ = self.stream_query(server)
        names = [name for name, _ in events]
        self.assertEqual(names[0], "sources", names)
        self.assertIn("delta", names, "tokens before the reset were relayed")
        self.assertEqual(names[-1], "error", names)

    def test_missing_region_or_credentials_fail_at_startup(self):
        base = {"RAGD_LLM_PROVIDER": "bedrock", "RAGD_LLM_BASE_URL": "http://127.0.0.1:9"}
        # Without credentials, instance metadata is the last guess; where there is none (a
        # laptop) startup fails within about a second, listing what could have been set.
        no_imds = {"AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "false",
                   "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:%d" % free_dead_port()}
        for env, expected in (({}, "region"),
                              ({"AWS_REGION": "us-east-1"}, "AWS_EC2_METADATA_DISABLED"),
                              (no_imds, "tried the EC2 instance metadata service")):
            full = dict(base)
            full.update(env)
            started = time.monotonic()
            result = run_cli("serve", "--data", SHARED["data"], "--listen", "127.0.0.1:0",
                             env=full, timeout=30)
            self.assertNotEqual(result.returncode, 0, result)
            self.assertIn(expected, result.stderr, result)
            if expected != "region":
                self.assertIn("bedrock needs credentials", result.stderr, result)
                self.assertIn("AWS_CONTAINER_CREDENTIALS_FULL_URI", result.stderr, result)
                self.assertLess(time.monotonic() - started, 15)

    def test_container_credentials_sign_and_refresh(self):
        # An ECS task role or EKS Pod Identity: no keys in ragd's environment, only where to
        # fetch temporary ones and the token to show there. The first set is due for a refresh
        # right away (it expires in 5 min + 2 s), which ragd does 5 s after fetching it.
        url = self.start_container_endpoint([5 * 60 + 2, 3600])
        mock = self.start_mock(["--seed", "5", "--verify-sigv4"],
                               env={"AWS_SECRET_ACCESS_KEY": AWS_SECRET})
        server = self.start_ragd({"provider": "bedrock", "base_url": mock.url,
                                  "model": self.MODEL, "aws_region": "eu-west-3",
                                  "max_attempts": 1},
                                 env={"AWS_CONTAINER_CREDENTIALS_FULL_URI": url,
                                      "AWS_CONTAINER_AUTHORIZATION_TOKEN": CONTAINER_TOKEN})
        self.assertEqual(ContainerCredentials.seen, [CONTAINER_TOKEN], "fetched at startup")
        body, _ = self.query(server)
        self.assert_upstream_answer(body, "bedrock", self.MODEL)

        wait_for(lambda: len(ContainerCredentials.seen) >= 2, 20, "the credentials refresh")
        self.assertEqual(ContainerCredentials.seen[1], CONTAINER_TOKEN)
        events, _ = self.stream_query(server)
        done = self.assert_streamed(events, "bedrock")
        self.assert_upstream_answer(done, "bedrock", self.MODEL)

        stats = mock.stats()
        self.assertEqual(stats["requests"]["converse"], 2)
        self.assertEqual(stats["auth_failures"], 0, "both signatures verified")
        self.stop_ragd(server)
        self.assertIn("aws credentials refreshed", server.output())

    def test_container_endpoint_refusal_stops_startup(self):
        url = self.start_container_endpoint([3600])
        result = run_cli("serve", "--data", SHARED["data"], "--listen", "127.0.0.1:0",
                         env={"RAGD_LLM_PROVIDER": "bedrock", "RAGD_LLM_AWS_REGION": "us-east-1",
                              "RAGD_LLM_BASE_URL": "http://127.0.0.1:9",
                              "AWS_CONTAINER_CREDENTIALS_FULL_URI": url,
                              "AWS_CONTAINER_AUTHORIZATION_TOKEN": "not-" + CONTAINER_TOKEN},
                         timeout=30)
        self.assertNotEqual(result.returncode, 0, result)
        self.assertIn("bedrock credentials from the ECS container endpoint %s: HTTP 401" % url,
                      result.stderr, result)
        assert_no_secret(self, result.stdout + result.stderr, "ragd's output")

        # A plain-http endpoint off this machine would carry the token in clear: refused.
        result = run_cli("serve", "--data", SHARED["data"], "--listen", "127.0.0.1:0",
                         env={"RAGD_LLM_PROVIDER": "bedrock", "RAGD_LLM_AWS_REGION": "us-east-1",
                              "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://192.0.2.1/creds",
                              "AWS_CONTAINER_AUTHORIZATION_TOKEN": CONTAINER_TOKEN},
                         timeout=30)
        self.assertNotEqual(result.returncode, 0, result)
        self.assertIn("AWS_CONTAINER_CREDENTIALS_FULL_URI http://192.0.2.1: refused",
                      result.stderr, result)


# -- timeouts ------------------------------------------------------------------------------------


class TimeoutTest(LlmTestCase):
    def test_first_token_timeout_falls_back_quickly(self):
        mock = self.start_mock(["--latency-ms", "3000"])
        server = self.start_ragd({"provider": "openai", "base_url": mock.url,
                                  "first_token_timeout_ms": 300})
        body, elapsed = self.query(server)
        self.assertEqual(body["generator"], "extractive", body)
        self.assertEqual(len(body["fallbacks"]), 1, body)
        self.assertIn("timeout", body["fallbacks"][0])
        self.assertIn("openai", body["fallbacks"][0])
        self.assertEqual(body["upstream_attempts"], 1, "a response timeout is not retried")
        self.assertLess(elapsed, 2.5, "the 3 s upstream latency was waited for")

        events, elapsed = self.stream_query(server)
        done = self.assert_streamed(events, "extractive")
        self.assertIn("timeout", done["fallbacks"][0])
        self.assertLess(elapsed, 2.5)

    def test_idle_timeout(self):
        # The mock stalls every answer: streamed, after two tokens; not streamed, before any
        # byte. Documented (llm/answerer.hpp): a failure before anything reached the client
        # falls back; after part of the answer reached it, the stream ends with an `error` event.
        mock = self.start_mock(["--error-rate", "1", "--error-kinds", "stall"])
        server = self.start_ragd({"provider": "openai", "base_url": mock.url,
                                  "idle_timeout_ms": 300, "first_token_timeout_ms": 800})
        events, elapsed = self.stream_query(server)
        names = [name for name, _ in events]
        self.assertEqual(names[0], "sources", names)
        self.assertIn("delta", names, "the mock sends two tokens before stalling")
        self.assertEqual(names[-1], "error", names)
        self.assertNotIn("done", names)
        error = events[-1][1]["error"]
        self.assertEqual(error["type"], "timeout", error)
        self.assertIn("idle", error["message"])
        self.assertLess(elapsed, 3.0)

        body, elapsed = self.query(server)
        self.assertEqual(body["generator"], "extractive", body)
        self.assertIn("timeout", body["fallbacks"][0])
        self.assertLess(elapsed, 3.0)
        mock.wait_stats(lambda s: s["requests_in_flight"] == 0, 2.0)


# -- retries -------------------------------------------------------------------------------------


class RetryTest(LlmTestCase):
    def test_retries_then_success(self):
        mock = self.start_mock(["--error-rate", "0.5", "--error-kinds", "500", "--seed", "5"])
        server = self.start_ragd({"provider": "openai", "base_url": mock.url,
                                  "max_attempts": 6})
        attempts = []
        for _ in range(12):
            body, _ = self.query(server)
            self.assertEqual(body["generator"], "openai", body)
            self.assertEqual(body["fallbacks"], [])
            attempts.append(body["upstream_attempts"])
        self.assertTrue(any(count > 1 for count in attempts), attempts)
        stats = mock.stats()
        self.assertEqual(stats["errors_injected"]["500"], sum(attempts) - len(attempts))

    def test_429_honours_retry_after_then_falls_back(self):
        # The mock's 429 carries Retry-After: 1 and retry-after-ms: 1000; 1 s is below the
        # 10 s cap, so it is waited for exactly once between the two attempts.
        mock = self.start_mock(["--error-rate", "1", "--error-kinds", "429"])
        server = self.start_ragd({"provider": "openai", "base_url": mock.url,
                                  "max_attempts": 2})
        body, elapsed = self.query(server)
        self.assertEqual(body["generator"], "extractive", body)
        self.assertEqual(body["upstream_attempts"], 2, body)
        self.assertIn("429", body["fallbacks"][0])
        self.assertGreaterEqual(elapsed, 0.95, "Retry-After was not honoured")
        self.assertLess(elapsed, 4.0)
        self.assertEqual(mock.stats()["errors_injected"]["429"], 2)


# -- breaker -------------------------------------------------------------------------------------


class BreakerTest(LlmTestCase):
    def test_opens_when_the_upstream_dies_and_closes_when_it_returns(self):
        open_ms = 1500
        mock = self.start_mock()
        server = self.start_ragd({"provider": "openai", "base_url": mock.url,
                                  "breaker_failures": 3, "breaker_open_ms": open_ms,
                                  "max_attempts": 1, "connect_timeout_ms": 1000})
        body, _ = self.query(server)
        self.assertEqual(body["generator"], "openai")

        mock.kill()
        reasons = []
        opened_at = None
        for _ in range(6):
            body, elapsed = self.query(server)
            self.assertEqual(body["generator"], "extractive", body)
            reasons.append(body["fallbacks"][0])
            if "circuit breaker is open" in body["fallbacks"][0]:
                opened_at = time.monotonic()
                self.assertLess(elapsed, 1.5, "an open breaker must answer without waiting")
                break
        self.assertIsNotNone(opened_at, reasons)
        self.assertEqual(len(reasons), 4, "opens after exactly breaker_failures=3: %r" % reasons)
        # The failures and the open breaker show in /metrics.
        metrics = server.request("GET", "/metrics").body.decode("utf-8")
        self.assertIn('ragd_upstream_requests_total{outcome="connect_error",provider="openai"} 3',
                      metrics)
        self.assertIn('ragd_upstream_requests_total{outcome="rejected",provider="openai"} 1',
                      metrics)
        self.assertIn('ragd_upstream_breaker_state{provider="openai"} 2', metrics)

        mock.start()  # same port
        deadline = max(opened_at + open_ms / 1000.0, time.monotonic()) + 3.0
        while True:
            body, _ = self.query(server)
            if body["generator"] == "openai":
                break
            self.assertIn("circuit breaker is open", body["fallbacks"][0], body)
            self.assertLess(time.monotonic(), deadline, "breaker did not close")
            time.sleep(0.1)
        self.assertGreaterEqual(time.monotonic() - opened_at, open_ms / 1000.0 - 0.6,
                                "the breaker let calls through before breaker_open_ms")
        body, _ = self.query(server)
        self.assertEqual(body["generator"], "openai")
        self.assertEqual(body["fallbacks"], [])


# -- fallback chain from TOML -----------------------------------------------------------------


class FallbackChainTest(LlmTestCase):
    def test_named_backup_upstream(self):
        backup = self.start_mock(["--seed", "3"])
        dead = free_dead_port()
        tmp = tempfile.mkdtemp(prefix="ragd-it-llm-cfg-")
        self.addCleanup(shutil.rmtree, tmp, True)
        config = os.path.join(tmp, "ragd.toml")
        with open(config, "w") as out:
            out.write('[llm]\nprovider = "anthropic"\nbase_url = "http://127.0.0.1:%d"\n'
                      'fallback = "backup,extractive"\nmax_attempts = 1\n'
                      'connect_timeout_ms = 1000\n\n'
                      '[llm.upstreams.backup]\nprovider = "openai"\n'
                      'base_url = "%s"\nmodel = "backup-model"\n'
                      'api_key_env = "IT_BACKUP_KEY"\n' % (dead, backup.url))
        server = self.start_ragd(env={"IT_BACKUP_KEY": BACKUP_KEY}, args=["--config", config])
        body, _ = self.query(server)
        self.assertEqual(body["generator"], "backup", body)
        self.assertEqual(body["model"], "backup-model")
        self.assertEqual(len(body["fallbacks"]), 1, body)
        self.assertIn("anthropic", body["fallbacks"][0])
        self.assertTrue(body["cited"])

        events, _ = self.stream_query(server)
        done = self.assert_streamed(events, "backup")
        self.assertIn("anthropic", done["fallbacks"][0])
        self.assertEqual(backup.stats()["auth_failures"], 0)


# -- bulkhead ------------------------------------------------------------------------------------


class BulkheadTest(LlmTestCase):
    def test_overflow_falls_back_and_nothing_fails(self):
        mock = self.start_mock(["--latency-ms", "2000"])
        server = self.start_ragd({"provider": "openai", "base_url": mock.url,
                                  "max_concurrent": 1, "max_queue": 1,
                                  "queue_timeout_ms": 100, "first_token_timeout_ms": 10000})
        results = [None] * 6
        errors = []
        barrier = threading.Barrier(6)

        def one(index):
            try:
                barrier.wait(timeout=10)
                results[index] = self.query(server)
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        self.assertEqual(errors, [])
        generators = [body["generator"] for body, _ in results]
        self.assertIn("openai", generators)
        shed = [body for body, _ in results if body["generator"] == "extractive"]
        self.assertGreaterEqual(len(shed), 4, generators)
        for body in shed:
            self.assertIn("slot", body["fallbacks"][0], body)
        # Shed requests did not wait for the slow upstream.
        self.assertLess(min(elapsed for _, elapsed in results), 1.5)


# -- streams cut short ---------------------------------------------------------------------------


class StreamEndTest(LlmTestCase):
    def test_client_disconnect_cancels_the_upstream_call(self):
        mock = self.start_mock(["--tokens-per-second", "4", "--output-tokens", "200"])
        server = self.start_ragd({"provider": "openai", "base_url": mock.url})
        sock = server.raw_socket()
        payload = json.dumps({"query": QUESTION, "top_k": 3, "stream": True}).encode()
        sock.sendall(b"POST /v1/query HTTP/1.1\r\nHost: ragd\r\nContent-Type: application/json"
                     b"\r\nContent-Length: %d\r\n\r\n" % len(payload) + payload)
        received = b""
        while b"event: sources" not in received or b"\n\n" not in received.split(
                b"event: sources", 1)[1]:
            chunk = sock.recv(65536)
            self.assertTrue(chunk, "ragd closed before the sources event: %r" % received)
            received += chunk
        self.assertTrue(received.startswith(b"HTTP/1.1 200"), received[:200])
        stats = mock.wait_stats(lambda s: s["streams_in_flight"] == 1, 5.0)
        self.assertEqual(stats["streams_in_flight"], 1, stats)
        sock.close()
        closed_at = time.monotonic()
        stats = mock.wait_stats(lambda s: s["client_closed_mid_stream"] >= 1, 2.5)
        self.assertEqual(stats["client_closed_mid_stream"], 1,
                         "the upstream call went on after the client left: %r" % stats)
        self.assertLess(time.monotonic() - closed_at, 2.5)
        self.assertEqual(stats["streams_completed"], 0)

    def test_reset_mid_stream_ends_with_an_error_event(self):
        mock = self.start_mock(["--error-rate", "1", "--error-kinds", "reset"])
        server = self.start_ragd({"provider": "openai", "base_url": mock.url})
        events, _ = self.stream_query(server)
        names = [name for name, _ in events]
        self.assertEqual(names[0], "sources", names)
        self.assertIn("delta", names, "the mock sends three tokens before the reset")
        self.assertEqual(names[-1], "error", "a cut stream must say so: %r" % names)
        self.assertNotIn("done", names)
        self.assertIn("message", events[-1][1]["error"])

        # Not streamed: the half body is retried, then the answer falls back.
        body, _ = self.query(server)
        self.assertEqual(body["generator"], "extractive", body)
        self.assertEqual(body["upstream_attempts"], 3, body)


# -- TLS -----------------------------------------------------------------------------------------

CANNED_ANSWER = "A Fresnel lens bends the lamp's light into a beam [1]."


class CannedOpenAi(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen_auth = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        CannedOpenAi.seen_auth.append(self.headers.get("Authorization"))
        body = json.dumps({
            "id": "chatcmpl-it", "object": "chat.completion", "model": "gpt-tls",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": CANNED_ANSWER},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 40, "completion_tokens": 12}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def make_certificates(directory):
    """ca.pem (a private CA) and server.pem/server.key for IP 127.0.0.1, signed by it."""
    def openssl(*args):
        subprocess.run(["openssl"] + list(args), cwd=directory, check=True,
                       capture_output=True, timeout=60)

    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=ragd integration test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    with open(os.path.join(directory, "ext.cnf"), "w") as out:
        out.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                  "extendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")


class TlsTest(LlmTestCase):
    def test_private_ca(self):
        tmp = tempfile.mkdtemp(prefix="ragd-it-tls-")
        self.addCleanup(shutil.rmtree, tmp, True)
        make_certificates(tmp)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(os.path.join(tmp, "server.pem"), os.path.join(tmp, "server.key"))
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), CannedOpenAi)
        httpd.daemon_threads = True
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                  daemon=True)
        thread.start()
        self.addCleanup(httpd.server_close)
        self.addCleanup(httpd.shutdown)
        url = "https://127.0.0.1:%d" % httpd.server_address[1]
        CannedOpenAi.seen_auth = []

        trusted = self.start_ragd({"provider": "openai", "base_url": url, "model": "gpt-tls",
                                   "ca_file": os.path.join(tmp, "ca.pem"), "max_attempts": 1})
        body, _ = self.query(trusted)
        self.assertEqual(body["generator"], "openai", body)
        self.assertEqual(body["answer"], CANNED_ANSWER)
        self.assertEqual(body["cited"], [1])
        self.assertEqual(body["usage"], {"prompt_tokens": 40, "completion_tokens": 12})
        self.assertEqual(CannedOpenAi.seen_auth, ["Bearer " + OPENAI_KEY])
        self.stop_ragd(trusted)

        untrusted = LlmRagd({"provider": "openai", "base_url": url, "max_attempts": 1})
        untrusted.start()
        self.addCleanup(self.stop_ragd, untrusted)
        body, _ = self.query(untrusted)
        self.assertEqual(body["generator"], "extractive", body)
        reason = body["fallbacks"][0]
        self.assertTrue("TLS" in reason or "certificate" in reason, reason)
        self.assertEqual(len(CannedOpenAi.seen_auth), 1, "no request without a verified peer")


if __name__ == "__main__":
    unittest.main(verbosity=2)
