#!/usr/bin/env python3
# The shared answer cache over TLS (cache.redis_url = rediss://...) with the real binary and a
# TLS-only redis-server, configured through RAGD_* variables as a container would be: a
# question answered by one ragd process is served from Redis to the next; a certificate ragd
# cannot verify leaves it serving from L1 with the reason logged; verification turned off is
# warned about; an unreadable CA file stops startup. Certificates are made with the openssl CLI.
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ragd_harness import (DATA_DIR, RagdServer, Redis, free_port, run_cli, scaled,  # noqa: E402
                          wait_for)

SHARED = {}
L2_UP = re.compile(r"^ragd_cache_l2_up (\S+)$", re.M)
QUESTION = {"query": "How does a lighthouse lens focus the light?", "top_k": 3}


def openssl(workdir, *args):
    subprocess.run(["openssl"] + list(args), cwd=workdir, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=60)


def make_certificates(workdir):
    """ca.pem, server.pem/.key (signed by the CA, for localhost and 127.0.0.1) and
    self.pem/.key (self-signed)."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"]
    openssl(workdir, "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem",
            "-subj", "/CN=ragd test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    with open(os.path.join(workdir, "server.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                "extendedKeyUsage=serverAuth\n")
    openssl(workdir, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=server")
    openssl(workdir, "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext")
    openssl(workdir, "req", "-x509", *ec, "-keyout", "self.key", "-out", "self.pem",
            "-subj", "/CN=self", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1")


def setUpModule():
    if shutil.which("redis-server") is None or shutil.which("openssl") is None:
        raise unittest.SkipTest("redis-server or openssl is not installed")
    SHARED["tmp"] = tempfile.mkdtemp(prefix="ragd-it-redis-tls-")
    make_certificates(SHARED["tmp"])
    SHARED["data"] = os.path.join(SHARED["tmp"], "data")
    result = run_cli("ingest", "--data", SHARED["data"],
                     os.path.join(DATA_DIR, "corpus", "lighthouse.md"))
    if result.returncode != 0:
        raise AssertionError("ingest failed: %r" % (result,))


def tearDownModule():
    shutil.rmtree(SHARED.pop("tmp", ""), ignore_errors=True)


def cert(name):
    return os.path.join(SHARED["tmp"], name)


class RedisTlsTest(unittest.TestCase):
    def start_redis(self, name):
        redis = Redis(free_port(), SHARED["tmp"],
                      tls=(cert(name + ".pem"), cert(name + ".key"), cert("ca.pem"))).start()
        self.addCleanup(redis.kill)
        return redis

    def ask(self, server):
        resp = server.post("/v1/query", QUESTION)
        self.assertEqual(resp.status, 200, resp)
        return resp.body

    def redis_check(self, server):
        resp = server.request("GET", "/ready")
        self.assertEqual(resp.status, 200, resp)  # Redis is optional: never out of rotation
        return resp.body["checks"]["redis"]

    def l2_up(self, server):
        resp = server.request("GET", "/metrics")
        self.assertEqual(resp.status, 200, resp)
        return float(L2_UP.search(resp.body.decode()).group(1))

    def test_answers_are_shared_through_redis_over_tls(self):
        redis = self.start_redis("server")
        # By host name, so the certificate's DNS name and SNI are what is checked.
        env = {"RAGD_CACHE_REDIS_URL": "rediss://localhost:%d" % redis.port,
               "RAGD_CACHE_REDIS_CA_FILE": cert("ca.pem")}
        with RagdServer(env=env, data_dir=SHARED["data"]) as first:
            answer = self.ask(first)
            self.assertFalse(answer.get("cached"), answer)
            self.assertEqual(self.redis_check(first)["status"], "ok")
        # A new process has an empty L1: a cached answer can only have come from Redis.
        with RagdServer(env=env, data_dir=SHARED["data"]) as second:
            again = self.ask(second)
            self.assertTrue(again.get("cached"), again)
            self.assertEqual(again.get("cache"), "l2", again)
            self.assertEqual(again.get("answer"), answer.get("answer"))
            check = self.redis_check(second)
            self.assertEqual(check["status"], "ok", check)
            self.assertEqual(self.l2_up(second), 1.0)
            self.assertNotIn("connection failed", second.stderr())

    def test_an_unverifiable_certificate_leaves_l1_only_and_says_why(self):
        redis = self.start_redis("server")
        env = {"RAGD_CACHE_REDIS_URL": "rediss://127.0.0.1:%d" % redis.port}  # no CA file
        with RagdServer(env=env, data_dir=SHARED["data"]) as server:
            self.ask(server)  # answered all the same
            check = self.redis_check(server)
            self.assertEqual(check["status"], "degraded", check)
            self.assertEqual(self.l2_up(server), 0.0)
            wait_for(lambda: "TLS handshake failed" in server.stderr(), scaled(5),
                     "the log to say why Redis is down")
            self.assertIn("certificate verify failed", server.stderr())

    def test_verification_off_reaches_a_self_signed_redis_and_warns(self):
        redis = self.start_redis("self")
        env = {"RAGD_CACHE_REDIS_URL": "rediss://127.0.0.1:%d" % redis.port,
               "RAGD_CACHE_REDIS_TLS_VERIFY": "false",
               "RAGD_CACHE_L1_MAX_BYTES": "1"}  # too small for an answer: repeats go to Redis
        with RagdServer(env=env, data_dir=SHARED["data"]) as server:
            # The log is written through an asynchronous queue and read by a harness thread.
            wait_for(lambda: "TLS certificate verification is off" in server.stderr(),
                     scaled(5), "the warning that verification is off")
            self.ask(server)
            again = self.ask(server)
            self.assertEqual(again.get("cache"), "l2", again)

    def test_an_unreadable_ca_file_stops_startup(self):
        env = {"RAGD_CACHE_REDIS_URL": "rediss://127.0.0.1:%d" % free_port(),
               "RAGD_CACHE_REDIS_CA_FILE": cert("missing-ca.pem")}
        with self.assertRaises(RuntimeError) as raised:
            RagdServer(env=env, data_dir=SHARED["data"]).start()
        self.assertIn("missing-ca.pem", str(raised.exception))


if __name__ == "__main__":
    unittest.main()
