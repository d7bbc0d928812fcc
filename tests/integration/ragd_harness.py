# Black-box harness for the real `ragd` binary: starts `ragd serve` on port 0 in a temp data dir,
# talks HTTP to it (http.client or raw sockets), and runs CLI subcommands. Python 3 stdlib only.
"""Helpers shared by the integration tests.

The binary comes from $RAGD_BIN (set by CTest); when unset, the newest `ragd` found in a build
directory of the source tree is used so the files can be run by hand.
"""

import glob
import http.client
import json
import os
import select
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA_DIR = os.path.join(SOURCE_DIR, "tests", "data", "integration")

# Generous: two cores are shared with compilers during development.
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
IO_TIMEOUT_S = 20.0

# Set by tests/integration/CMakeLists.txt for a sanitizer build of ragd: how many times slower
# it runs, and the sanitizers ("address,undefined"). Unset (1, "") for other builds.
SLOWDOWN = float(os.environ.get("RAGD_TEST_SLOWDOWN") or 1.0)
SANITIZE = os.environ.get("RAGD_TEST_SANITIZE", "")


def scaled(seconds):
    """A time bound written for an optimised build, stretched for a sanitizer build."""
    return seconds * SLOWDOWN


def ragd_bin():
    """Path of the ragd binary under test."""
    path = os.environ.get("RAGD_BIN")
    if path:
        return path
    candidates = [p for p in glob.glob(os.path.join(SOURCE_DIR, "build*", "ragd"))
                  if os.access(p, os.X_OK)]
    if not candidates:
        raise RuntimeError("set RAGD_BIN to the ragd binary (none found under build*/)")
    return max(candidates, key=os.path.getmtime)


def clean_env(extra=None):
    """The environment without any RAGD_* or AWS_* variable the caller happens to have, plus
    `extra`. AWS credentials of the outer shell must not reach a test's ragd, and a ragd asked
    for Bedrock without credentials must not find a real instance metadata service (on an EC2
    test machine it would hand out the machine's role): tests that want it set their own."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RAGD_", "AWS_")) or k == "RAGD_BIN"}
    env.pop("RAGD_BIN", None)
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    # Tests stop servers with SIGTERM; the production drain delay (5 s) would only slow them.
    # A test of draining passes its own value.
    env["RAGD_SERVER_DRAIN_DELAY_MS"] = "0"
    env.update(extra or {})
    return env


class CliResult:
    """Outcome of one CLI run: exit code and decoded stdout/stderr."""

    def __init__(self, args, returncode, stdout, stderr):
        self.args = args
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    def json(self):
        return json.loads(self.stdout)

    def __repr__(self):
        return ("CliResult(args=%r, rc=%d)\n--- stdout ---\n%s\n--- stderr ---\n%s"
                % (self.args, self.returncode, self.stdout, self.stderr))


def run_cli(*args, env=None, timeout=60, cwd=None):
    """Runs `ragd ARGS...` to completion and returns a CliResult (never raises on exit code)."""
    argv = [ragd_bin()] + [str(a) for a in args]
    proc = subprocess.run(argv, capture_output=True, timeout=timeout, env=clean_env(env), cwd=cwd)
    return CliResult(argv, proc.returncode, proc.stdout.decode("utf-8", "replace"),
                     proc.stderr.decode("utf-8", "replace"))


class Response:
    """status, headers (lower-cased names -> value) and body (parsed JSON, or raw bytes)."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def __iter__(self):  # allows `status, headers, body = server.request(...)`
        return iter((self.status, self.headers, self.body))

    def __repr__(self):
        return "Response(%d, %r, %r)" % (self.status, self.headers, self.body)


def _decode_body(raw, content_type):
    if raw and ("json" in (content_type or "") or raw[:1] in (b"{", b"[")):
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return raw
    return raw


class RawResponse:
    """A response read from a raw socket: status, headers (lower-cased), body bytes."""

    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "RawResponse(%d %s, %r, %r)" % (self.status, self.reason, self.headers,
                                               self.body[:300])


class RawReader:
    """Reads successive HTTP/1.1 responses from one socket, keeping bytes that arrive early
    (pipelined responses can share a recv)."""

    def __init__(self, sock, timeout=IO_TIMEOUT_S):
        self.sock = sock
        self.timeout = timeout
        self.buffer = b""

    def _fill(self, what):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed %s: %r" % (what, self.buffer[:300]))
        self.buffer += chunk

    def read(self, head_only=False):
        """One Content-Length-framed response (RawResponse); `head_only` for a HEAD request,
        whose Content-Length describes a body that is not sent."""
        self.sock.settimeout(self.timeout)
        while b"\r\n\r\n" not in self.buffer:
            self._fill("before a full response head")
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        status = int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = 0 if head_only else int(headers.get("content-length", "0"))
        self.buffer = rest
        while len(self.buffer) < length:
            self._fill("inside a response body")
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return RawResponse(status, reason, headers, body)


def read_raw_response(sock, timeout=IO_TIMEOUT_S):
    """Reads one response from `sock` (use RawReader for several on one connection)."""
    return RawReader(sock, timeout).read()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout, what, interval=0.02):
    """Polls predicate() until it returns a true value (returned); AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


class Redis:
    """`redis-server` on 127.0.0.1:port without persistence; start() again after kill().

    With `tls=(cert_file, key_file, ca_file)` the port speaks TLS only (as managed Redis
    services do) and clients need no certificate of their own."""

    def __init__(self, port, workdir, tls=None):
        self.port = port
        self.workdir = workdir
        self.tls = tls
        self.proc = None

    def start(self):
        argv = ["redis-server", "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", self.workdir, "--loglevel", "warning"]
        if self.tls is None:
            argv += ["--port", str(self.port)]
        else:
            cert, key, ca = self.tls
            argv += ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", cert,
                     "--tls-key-file", key, "--tls-ca-cert-file", ca, "--tls-auth-clients", "no"]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_for(self.ping, 10, "redis-server to answer PING", interval=0.01)
        return self

    def ping(self):
        try:
            with self._connect() as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:  # ssl.SSLError included
            return False

    def _connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=1)
        if self.tls is None:
            return sock
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False  # asks whether Redis is up, not who it is
        context.verify_mode = ssl.CERT_NONE
        try:
            return context.wrap_socket(sock)
        except OSError:
            sock.close()
            raise

    def kill(self):
        """SIGKILL: connections die without a goodbye, as on a crash or OOM kill."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None


def postgres_bindir():
    """Directory holding Debian's initdb and postgres (newest major version), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    return os.path.dirname(found[-1]) if found else None


class Postgres:
    """A throwaway PostgreSQL cluster on 127.0.0.1:port (trust auth, user "ragd", no fsync).

    PostgreSQL refuses to run as root: as root, initdb and postgres run as Debian's `postgres`
    system user, in a directory handed to it. start() again after kill() or stop()."""

    def __init__(self, port=None):
        self.bindir = postgres_bindir()
        self.port = port or free_port()
        self.root = tempfile.mkdtemp(prefix="ragd-it-pg-")
        self.datadir = os.path.join(self.root, "cluster")
        self.proc = None
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user is not None:
            shutil.chown(self.root, user=self.user)

    def url(self, dbname="postgres"):
        return "postgresql://ragd@127.0.0.1:%d/%s?connect_timeout=5" % (self.port, dbname)

    def _run(self, argv):
        result = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, user=self.user, cwd=self.root,
                                timeout=120)
        if result.returncode != 0:
            raise RuntimeError("%s failed (%d):\n%s"
                               % (argv[0], result.returncode, result.stdout.decode("utf-8", "replace")))
        return result.stdout.decode("utf-8", "replace")

    def start(self):
        if not os.path.isdir(self.datadir):
            self._run([os.path.join(self.bindir, "initdb"), "-D", self.datadir, "-U", "ragd",
                       "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"])
        argv = [os.path.join(self.bindir, "postgres"), "-D", self.datadir, "-p", str(self.port),
                "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=" + self.root,
                "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off"]
        self.log = open(os.path.join(self.root, "postgres.log"), "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, user=self.user, cwd=self.root)
        wait_for(self.accepting, scaled(30), "postgres to accept connections", interval=0.05)
        return self

    def accepting(self):
        if self.proc.poll() is not None:
            raise RuntimeError("postgres exited (%s):\n%s" % (self.proc.returncode, self.logs()))
        result = subprocess.run([os.path.join(self.bindir, "pg_isready"), "-q", "-h", "127.0.0.1",
                                 "-p", str(self.port)], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return result.returncode == 0

    def psql(self, sql, dbname="postgres"):
        """Runs SQL with psql; returns its unaligned, tuples-only output."""
        return self._run([os.path.join(self.bindir, "psql"), "-X", "-q", "-A", "-t",
                          "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.port),
                          "-U", "ragd", "-d", dbname, "-c", sql]).strip()

    def logs(self):
        try:
            with open(os.path.join(self.root, "postgres.log"), "rb") as f:
                return f.read().decode("utf-8", "replace")[-4000:]
        except OSError:
            return ""

    def kill(self):
        """SIGKILL: the postmaster dies without a goodbye; its backends notice and exit."""
        self._end(signal.SIGKILL)

    def stop(self):
        """Fast shutdown (SIGINT): sessions are ended, then the server exits."""
        self._end(signal.SIGINT)

    def _end(self, sig):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(sig)
                self.proc.wait(timeout=30)
            self.proc = None
            self.log.close()
            if sig == signal.SIGKILL:
                # Orphaned backends hold the shared memory and the port until they exit.
                wait_for(lambda: not self._backends_alive(), 30, "postgres backends to exit",
                         interval=0.05)

    def _backends_alive(self):
        pid_file = os.path.join(self.datadir, "postmaster.pid")
        try:
            with open(pid_file) as f:
                pid = int(f.readline())
        except (OSError, ValueError):
            return False
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class RagdServer:
    """`with RagdServer() as server:` runs `ragd serve` on 127.0.0.1:0 in a fresh data dir.

    Leaving the block sends SIGTERM and asserts a clean exit (code 0 within 10 s); the process is
    killed if it does not stop, and the temp dir is removed.
    """

    def __init__(self, args=(), env=None, data_dir=None, threads=2):
        self.extra_args = [str(a) for a in args]
        self.env = env
        self.threads = threads
        self._own_tmp = None
        self.data_dir = data_dir
        self.proc = None
        self.host = None
        self.port = None
        self._stdout_lines = []
        self._stderr_chunks = []
        self._stderr_thread = None
        self.exit_code = None

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        code = self.stop()
        if exc_type is None and code != 0:
            raise AssertionError("ragd serve exited with %r after SIGTERM, want 0\nstderr:\n%s"
                                 % (code, self.stderr()))
        return False

    def start(self):
        if self.data_dir is None:
            self._own_tmp = tempfile.mkdtemp(prefix="ragd-it-")
            self.data_dir = os.path.join(self._own_tmp, "data")
        argv = [ragd_bin(), "serve", "--data", self.data_dir, "--listen", "127.0.0.1:0"]
        if self.threads is not None:
            argv += ["--threads", str(self.threads), "--set",
                     "server.compute_threads=%d" % self.threads]
        argv += self.extra_args
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=clean_env(self.env))
        # Drain stderr continuously so a chatty server never blocks on a full pipe.
        self._stderr_thread = threading.Thread(target=self._drain_stderr,
                                               args=(self.proc.stderr,), daemon=True)
        self._stderr_thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        buffered = b""
        fd = self.proc.stdout.fileno()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._kill()
                raise RuntimeError("ragd serve printed no 'listening on' line within %.0f s\n"
                                   "argv: %s\nstdout: %r\nstderr:\n%s"
                                   % (START_TIMEOUT_S, argv, buffered, self.stderr()))
            ready, _, _ = select.select([fd], [], [], min(remaining, 0.2))
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    code = self.proc.wait(timeout=5)
                    self._stderr_thread.join(timeout=2)
                    stderr = self.stderr()
                    self._release()
                    raise RuntimeError("ragd serve exited (code %s) before listening\nargv: %s\n"
                                       "stdout: %r\nstderr:\n%s"
                                       % (code, argv, buffered, stderr))
                buffered += chunk
                if b"\n" in buffered:
                    line, _, rest = buffered.partition(b"\n")
                    text = line.decode("utf-8", "replace")
                    self._stdout_lines.append(text)
                    if not text.startswith("listening on "):
                        self._kill()
                        raise RuntimeError("unexpected first stdout line %r\nstderr:\n%s"
                                           % (text, self.stderr()))
                    hostport = text[len("listening on "):].strip()
                    host, _, port = hostport.rpartition(":")
                    self.host = host.strip("[]")
                    self.port = int(port)
                    self.stdout_rest = rest
                    return self
            elif self.proc.poll() is not None:
                continue  # loop: the read above sees EOF and reports

    def _drain_stderr(self, pipe):
        for chunk in iter(lambda: pipe.read1(4096), b""):
            self._stderr_chunks.append(chunk)

    def stderr(self):
        return b"".join(self._stderr_chunks).decode("utf-8", "replace")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM):
        """Signals the server and returns its exit code (None if it had to be killed)."""
        if self.proc is None:
            return self.exit_code
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.exit_code = self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
                self.exit_code = None
        else:
            self.exit_code = self.proc.returncode
        self._release()
        return self.exit_code

    def _kill(self):
        """Kills a server that misbehaved during start-up and releases everything."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=5)
            self._release()

    def _release(self):
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=2)
        self.proc.stdout.close()
        self.proc.stderr.close()
        self.proc = None
        self._cleanup_tmp()

    def _cleanup_tmp(self):
        if self._own_tmp is not None:
            shutil.rmtree(self._own_tmp, ignore_errors=True)
            self._own_tmp = None

    # -- HTTP -----------------------------------------------------------------------------------

    def connection(self, timeout=IO_TIMEOUT_S):
        """A fresh http.client connection (keep-alive capable)."""
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, conn=None):
        """One request; returns Response(status, headers, body) with body parsed when JSON.

        `body` may be a dict/list (sent as JSON), str or bytes. Pass `conn` to reuse a keep-alive
        connection; otherwise a new one is opened and closed.
        """
        hdrs = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode("utf-8")
            hdrs.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode("utf-8")
            hdrs.setdefault("Content-Type", "application/json")
        own = conn is None
        if own:
            conn = self.connection()
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
            resp_headers = {k.lower(): v for k, v in resp.getheaders()}
            return Response(resp.status, resp_headers,
                            _decode_body(raw, resp_headers.get("content-type")))
        finally:
            if own:
                conn.close()

    def raw_socket(self, timeout=IO_TIMEOUT_S):
        return socket.create_connection((self.host, self.port), timeout=timeout)

    def raw(self, data, timeout=IO_TIMEOUT_S):
        """Sends hand-written bytes on a new socket and reads one response (RawResponse)."""
        with self.raw_socket(timeout) as sock:
            sock.sendall(data)
            return RawReader(sock, timeout).read(head_only=data.startswith(b"HEAD "))

    # -- conveniences used by several tests -----------------------------------------------------

    def post(self, path, body, **kwargs):
        return self.request("POST", path, body=body, **kwargs)

    def ingest(self, **document):
        """POSTs one document and returns its result object; asserts 201."""
        resp = self.post("/v1/documents", document)
        if resp.status != 201:
            raise AssertionError("POST /v1/documents -> %r" % (resp,))
        return resp.body["documents"][0]

    def wait_ready(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            resp = self.request("GET", "/ready")
            if resp.status == 200 or time.monotonic() > deadline:
                return resp
            time.sleep(0.05)


class MockLlm:
    """`ragd mock-llm --listen 127.0.0.1:PORT ARGS`; `port` 0 picks one (read back from its
    "listening on" line). start() / kill() / stop() may be repeated on the same port."""

    def __init__(self, args=(), port=0, env=None):
        self.args = [str(a) for a in args]
        self.port = port
        self.env = env
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        self.stop()
        return False

    def start(self):
        argv = [ragd_bin(), "mock-llm", "--listen", "127.0.0.1:%d" % self.port,
                "--threads", "1"] + self.args
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=clean_env(self.env))
        line = b""
        deadline = time.monotonic() + START_TIMEOUT_S
        fd = self.proc.stdout.fileno()
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise RuntimeError("mock-llm printed no 'listening on' line")
            ready, _, _ = select.select([fd], [], [], min(remaining, 0.2))
            if ready:
                chunk = os.read(fd, 1)
                if not chunk:
                    code = self.proc.wait(timeout=5)
                    raise RuntimeError("mock-llm exited (%s) before listening" % code)
                line += chunk
        text = line.decode().strip()
        if not text.startswith("listening on 127.0.0.1:"):
            self.kill()
            raise RuntimeError("unexpected mock-llm line %r" % text)
        self.port = int(text.rsplit(":", 1)[1])
        return self

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def kill(self):
        """SIGKILL: the upstream vanishes without closing anything gracefully."""
        self._end(signal.SIGKILL)

    def stop(self):
        self._end(signal.SIGTERM)

    def _end(self, sig):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc.stdout.close()
        self.proc = None

    def stats(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=IO_TIMEOUT_S)
        try:
            conn.request("GET", "/stats")
            resp = conn.getresponse()
            assert resp.status == 200, resp.status
            return json.loads(resp.read())
        finally:
            conn.close()

    def wait_stats(self, predicate, timeout):
        """Polls /stats until predicate(stats) holds; returns the last stats either way."""
        deadline = time.monotonic() + timeout
        while True:
            stats = self.stats()
            if predicate(stats) or time.monotonic() > deadline:
                return stats
            time.sleep(0.02)


def error_message(body):
    """The `error.message` of an error body, or a readable placeholder."""
    try:
        return body["error"]["message"]
    except (TypeError, KeyError):
        return "<no error.message in %r>" % (body,)
