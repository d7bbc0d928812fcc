#!/usr/bin/env python3
# Checks deploy/: promtool accepts the alerting rules and the example Prometheus config, the
# rules' unit tests pass (tests/data/deploy/ragd-alerts-test.yml), and the Grafana dashboard is
# valid JSON whose every metric and label exists in a running ragd's /metrics, or is listed
# below as planned (added by later work, with the labels it will have).
import json
import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ragd_harness import SOURCE_DIR, RagdServer  # noqa: E402

DEPLOY = os.path.join(SOURCE_DIR, "deploy")
DASHBOARD = os.path.join(DEPLOY, "grafana", "ragd-dashboard.json")
ALERTS = os.path.join(DEPLOY, "prometheus", "ragd-alerts.yml")
PROMETHEUS_CONFIG = os.path.join(DEPLOY, "prometheus", "prometheus.yml")
ALERT_TESTS = os.path.join(SOURCE_DIR, "tests", "data", "deploy", "ragd-alerts-test.yml")

# Series the dashboard and alerts use before ragd exports them, with their labels. Once one
# ships, its real labels are checked instead and its entry here is redundant: delete it then.
PLANNED = {
    # cache layer: one count per tier consulted ("l1", "l2", "semantic") and result ("hit",
    # "miss", "error", "refused")
    "ragd_cache_requests_total": {"tier", "result"},
    # LLM upstreams: calls by provider and outcome ("ok", "error", "timeout", "rejected",
    # "cancelled", "http_4xx", "http_5xx", "http_429"), their duration, the breaker state
    "ragd_upstream_requests_total": {"provider", "outcome"},
    "ragd_upstream_duration_seconds_bucket": {"provider", "le"},
    "ragd_upstream_breaker_state": {"provider"},
    # exported once `ragd serve` installs the asynchronous logger (Metrics::set_log_dropped_source)
    "ragd_log_dropped_lines_total": set(),
}
# Labels Prometheus attaches to every scraped series.
TARGET_LABELS = {"job", "instance"}

METRIC = re.compile(r"\b(?:ragd|process)_[a-z0-9_]+\b")
SELECTOR = re.compile(r"\b((?:ragd|process)_[a-z0-9_]+)\{([^}]*)\}")
MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
GROUPING = re.compile(r"\b(?:by|on|without|ignoring)\s*\(([^)]*)\)")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"')


def exposition_labels(text):
    """{series name: set of label names} from an exposition, including names that only have
    # TYPE lines so far (histograms get _bucket/_sum/_count)."""
    labels = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            names = [name]
            if kind == "histogram":
                names = [name + "_bucket", name + "_sum", name + "_count"]
                labels.setdefault(name + "_bucket", set()).add("le")
            elif kind == "summary":
                names = [name, name + "_sum", name + "_count"]
            for series in names:
                labels.setdefault(series, set())
        elif line and not line.startswith("#"):
            series = line.rpartition(" ")[0]
            name, _, rest = series.partition("{")
            labels.setdefault(name, set()).update(LABEL.findall(rest))
    return labels


def alert_exprs(path):
    """(alert name, expr) for each rule, read without a YAML library: `expr:` either holds the
    expression on its line or starts a block scalar whose lines are indented deeper."""
    exprs = []
    alert = None
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    line_idx = 0
    while line_idx < len(lines):
        line = lines[line_idx]
        line_idx += 1
        found = re.match(r"\s*- alert:\s*(\S+)", line)
        if found:
            alert = found.group(1)
            continue
        found = re.match(r"(\s*)expr:\s*(.*)$", line)
        if not found:
            continue
        indent, rest = len(found.group(1)), found.group(2).strip()
        if rest not in ("|", ">", "|-", ">-"):
            exprs.append((alert, rest))
            continue
        block = []
        while line_idx < len(lines) and (not lines[line_idx].strip() or
                                         len(lines[line_idx]) - len(lines[line_idx].lstrip())
                                         > indent):
            block.append(lines[line_idx].strip())
            line_idx += 1
        exprs.append((alert, " ".join(block)))
    return exprs


def dashboard_exprs(dashboard):
    exprs = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            exprs.append((panel["title"], target["expr"]))
    return exprs


class DeployRulesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Fails rather than skips without promtool: scripts/install-deps.sh --test installs it.
        cls.promtool = shutil.which("promtool")
        with RagdServer() as server:
            server.ingest(id="deploy-doc", text="Lanterns of the harbour guide the ferries home.")
            for body in ({"query": "lanterns"}, {"query": "ferries", "mode": "bm25"}):
                server.post("/v1/query", body)
            server.request("GET", "/no/such/route")
            resp = server.request("GET", "/metrics")
            assert resp.status == 200, resp
            cls.exported = exposition_labels(resp.body.decode("utf-8"))
        with open(DASHBOARD, encoding="utf-8") as f:
            cls.dashboard = json.load(f)

    def run_promtool(self, *args):
        self.assertIsNotNone(self.promtool, "promtool not found (Debian package prometheus)")
        done = subprocess.run([self.promtool, *args], capture_output=True, timeout=120)
        self.assertEqual(done.returncode, 0, "promtool %s:\n%s%s" % (
            " ".join(args), done.stdout.decode(), done.stderr.decode()))

    def test_promtool_checks_the_rules(self):
        self.run_promtool("check", "rules", ALERTS)

    def test_promtool_checks_the_example_config(self):
        self.run_promtool("check", "config", PROMETHEUS_CONFIG)

    def test_alerts_fire_as_documented(self):
        self.run_promtool("test", "rules", ALERT_TESTS)

    def check_expr(self, where, expr):
        known = {}
        for name in METRIC.findall(expr):
            if name in self.exported:
                known[name] = self.exported[name]
            elif name in PLANNED:
                known[name] = PLANNED[name]
            else:
                self.fail("%s: metric %s is neither in ragd's /metrics nor planned\n%s"
                          % (where, name, expr))
        for name, matchers in SELECTOR.findall(expr):
            for label in MATCHER.findall(matchers):
                self.assertIn(label, known[name] | TARGET_LABELS,
                              "%s: %s has no label %r\n%s" % (where, name, label, expr))
        all_labels = set().union(*known.values()) | TARGET_LABELS if known else TARGET_LABELS
        for group in GROUPING.findall(expr):
            for label in filter(None, (part.strip() for part in group.split(","))):
                self.assertIn(label, all_labels,
                              "%s: grouping by %r, which no metric here has\n%s"
                              % (where, label, expr))

    def test_alert_metrics_and_labels_exist(self):
        exprs = alert_exprs(ALERTS)
        self.assertGreaterEqual(len(exprs), 6, exprs)
        for alert, expr in exprs:
            self.assertTrue(expr, alert)
            self.check_expr("alert " + alert, expr)

    def test_dashboard_metrics_and_labels_exist(self):
        exprs = dashboard_exprs(self.dashboard)
        self.assertGreaterEqual(len(exprs), 12)
        for title, expr in exprs:
            self.check_expr("panel %r" % title, expr)

    def test_dashboard_covers_the_operational_series(self):
        used = set()
        for _, expr in dashboard_exprs(self.dashboard):
            used.update(METRIC.findall(expr))
        for name in ("ragd_http_requests_total", "ragd_http_request_duration_seconds_bucket",
                     "ragd_inflight_requests", "ragd_shed_total", "ragd_cache_requests_total",
                     "ragd_upstream_duration_seconds_bucket", "ragd_upstream_requests_total",
                     "ragd_upstream_breaker_state", "process_cpu_seconds_total",
                     "process_resident_memory_bytes", "ragd_open_connections", "ragd_ready"):
            self.assertIn(name, used)

    def test_dashboard_uses_the_datasource_variable(self):
        variables = {v["name"]: v for v in self.dashboard["templating"]["list"]}
        self.assertEqual(variables["DS_PROMETHEUS"]["type"], "datasource")
        self.assertEqual(variables["DS_PROMETHEUS"]["query"], "prometheus")
        ids = set()
        for panel in self.dashboard["panels"]:
            self.assertNotIn(panel["id"], ids, "duplicate panel id")
            ids.add(panel["id"])
            pos = panel["gridPos"]
            self.assertLessEqual(pos["x"] + pos["w"], 24, panel["title"])
            if panel["type"] == "row":
                continue
            self.assertEqual(panel["datasource"], {"type": "prometheus",
                                                   "uid": "${DS_PROMETHEUS}"}, panel["title"])
            for target in panel["targets"]:
                self.assertEqual(target["datasource"]["uid"], "${DS_PROMETHEUS}")
                for variable in re.findall(r"\$(\w+)", target["expr"]):
                    if not variable.startswith("__"):
                        self.assertIn(variable, variables, panel["title"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
