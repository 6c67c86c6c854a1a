"""The shipped alert rules and dashboard: the rules behave as their tests say, and every
metric they read is one the receiver exposes."""

import json
import re
import shutil
import subprocess

import pytest
from prometheus_client.parser import text_string_to_metric_families

from .servers import ROOT

DEPLOY = ROOT / "deploy"
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


@pytest.fixture
def environment(environment):
    return {**environment, "RECEIVER_METRICS_TOKEN": "scrape-me"}


def exposed(client) -> set[str]:
    """Every series name /metrics serves, counters and histograms with their suffixes."""
    text = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"}).get_data(True)
    return {family.name + suffix for family in text_string_to_metric_families(text)
            for suffix in SUFFIXES.get(family.type, ("",))}


def named_in(text: str) -> set[str]:
    return set(re.findall(r"\breceiver_[a-z_]+", text))


def test_the_alert_rules_pass_their_tests():
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    tested = subprocess.run([promtool, "test", "rules", "alerts.test.yml"],
                            cwd=DEPLOY / "prometheus", capture_output=True, text=True, timeout=60)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_rules_and_dashboard_read_only_metrics_the_receiver_exposes(client):
    rules = (DEPLOY / "prometheus" / "alerts.yml").read_text()
    dashboard = json.loads((DEPLOY / "grafana" / "receiver.json").read_text())
    expressions = " ".join(target["expr"] for panel in dashboard["panels"]
                           for target in panel["targets"])
    read = named_in(rules) | named_in(expressions)
    assert read and read <= exposed(client), read - exposed(client)
