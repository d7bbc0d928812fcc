#!/usr/bin/env python3
# Per-key rate limits shared through Redis (auth.rate_limit_store = redis) by two real `ragd
# serve` replicas: one burst for both, over the async route (/v1/query) and the synchronous one
# (/v1/search); Redis killed -> each replica limits on its own (a key it spent stays refused,
# an untouched key gets its burst, then 429: never no limit); Redis back -> shared again.
import os
import re
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ragd_harness import RagdServer, Redis, free_port, run_cli, wait_for  # noqa: E402

DECISIONS = re.compile(r'^ragd_rate_limit_decisions_total\{store="(\w+)"\} (\d+)$')




def create_key(name, rps, burst):
    result = run_cli("keys", "create", "--name", name, "--requests-per-second", str(rps),
                     "--burst", str(burst))
    if result.returncode != 0:
        raise AssertionError("ragd keys create failed: %r" % (result,))
    lines = result.stdout.splitlines()
    return lines[0].strip(), "\n".join(lines[1:]) + "\n"


class SharedRateLimitTest(unittest.TestCase):
    def setUp(self):
        if shutil.which("redis-server") is None:
            self.skipTest("redis-server is not installed")
        self.tmp = tempfile.mkdtemp(prefix="ragd-it-ratelimit-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.redis = Redis(free_port(), self.tmp).start()
        self.addCleanup(self.redis.kill)
        # 0.01 request/s: nothing refills while the test runs.
        self.keys = {}
        blocks = []
        for name, burst in (("shared", 4), ("idle", 2), ("later", 2), ("probe", 1000)):
            self.keys[name], block = create_key(name, 0.01, burst)
            blocks.append(block)
        config = os.path.join(self.tmp, "ragd.toml")
        with open(config, "w") as f:
            f.write("\n".join(blocks))
        env = {"RAGD_AUTH_RATE_LIMIT_STORE": "redis",
               "RAGD_AUTH_REDIS_URL": "redis://127.0.0.1:%d" % self.redis.port,
               "RAGD_AUTH_REDIS_TIMEOUT_MS": "200"}
        self.replicas = []
        for _ in range(2):
            server = RagdServer(args=["--config", config], env=env, threads=1)
            server.start()
            self.addCleanup(self.stop, server)
            self.replicas.append(server)

    def stop(self, server):
        code = server.stop()
        self.assertEqual(code, 0, server.stderr())

    def call(self, server, key, path="/v1/search"):
        return server.request("POST", path, {"query": "lighthouse"},
                              headers={"Authorization": "Bearer " + self.keys[key]})

    def decisions(self, server):
        resp = server.request("GET", "/metrics")
        self.assertEqual(resp.status, 200, resp)
        counts = {}
        for line in resp.body.decode().splitlines():
            match = DECISIONS.match(line)
            if match:
                counts[match.group(1)] = int(match.group(2))
        return counts

    def ready_check(self, server):
        resp = server.request("GET", "/ready")
        self.assertEqual(resp.status, 200, resp)  # an optional check: never out of rotation
        return resp.body["checks"]["rate_limit_redis"]["status"]

    def test_replicas_share_buckets_and_fall_back_to_local_limits(self):
        first, second = self.replicas
        self.assertEqual(self.ready_check(first), "ok")
        # One burst of 4 for both replicas, over the async and the synchronous route.
        remaining = []
        for server, path in ((first, "/v1/query"), (first, "/v1/search"), (first, "/v1/query"),
                             (first, "/v1/search")):
            resp = self.call(server, "shared", path)
            self.assertNotEqual(resp.status, 429, resp)
            remaining.append(int(resp.headers["ratelimit-remaining"]))
        self.assertEqual(remaining, [3, 2, 1, 0])
        for path in ("/v1/search", "/v1/query"):
            resp = self.call(second, "shared", path)
            self.assertEqual(resp.status, 429, resp)
            self.assertEqual(resp.headers["retry-after"], "100")  # one request at 0.01/s
            self.assertEqual(resp.headers["ratelimit-remaining"], "0")
        self.assertEqual(self.decisions(second).get("local"), 0)

        self.redis.kill()
        # The replica that spent the key keeps refusing it from its own buckets.
        for path in ("/v1/search", "/v1/query"):
            self.assertEqual(self.call(first, "shared", path).status, 429)
        # Never no limit: an untouched key gets its burst on a replica, then 429.
        statuses = [self.call(second, "idle").status for _ in range(3)]
        self.assertEqual(statuses[2], 429, statuses)
        self.assertNotIn(429, statuses[:2], statuses)
        self.assertGreater(self.decisions(first).get("local", 0), 0)
        self.assertEqual(self.ready_check(first), "degraded")

        self.redis.start()
        # Each replica reconnects after its back-off: await a decision made in Redis again.
        for server in self.replicas:
            before = self.decisions(server).get("redis", 0)
            wait_for(lambda: self.call(server, "probe").status != 429 and
                     self.decisions(server).get("redis", 0) > before, 10,
                     "a rate-limit decision in the restarted Redis")
        statuses = [self.call(server, "later").status for server in (first, second, first, second)]
        self.assertNotIn(429, statuses[:2], statuses)
        self.assertEqual(statuses[2:], [429, 429])
        self.assertEqual(self.ready_check(second), "ok")


if __name__ == "__main__":
    unittest.main(verbosity=2)
