"""The built-in adapters pass the shipped contract, and the registry survives broken plugins."""

import base64
import json
import multiprocessing
import shutil
import ssl
import subprocess
from datetime import datetime, timezone
from importlib.metadata import EntryPoint

import pytest
import trustme

from receiver.adapters import Delivered, Failed, RetryLater, registry
from receiver.adapters.api import retry_after_seconds
from receiver.adapters.http import HttpAdapter
from receiver.adapters.jsonl import JsonlAdapter
from receiver.adapters.log import LogAdapter
from receiver.config import ConfigError, load_settings
from receiver.testing import AdapterContract, sample_events

from .crm import SECRET, Answer, FakeCrm


def settings(**environ):
    return load_settings({"ROCKETCHAT_LIVECHAT_TOKEN": "t", **environ})


class TestLogAdapter(AdapterContract):
    def make_adapter(self):
        return LogAdapter(settings())

    def test_logs_no_personal_data(self, caplog):
        caplog.set_level("INFO")
        self.make_adapter().deliver(sample_events()["e-livechat-session-close"])
        line = caplog.records[-1].fields
        assert line["kind"] == "chat.closed" and line["messages"] == 3
        assert "maria" not in json.dumps(line).lower()


class TestJsonlAdapter(AdapterContract):
    @pytest.fixture(autouse=True)
    def _path(self, tmp_path):
        self.path = tmp_path / "events.jsonl"

    def make_adapter(self):
        return JsonlAdapter(settings(RECEIVER_ADAPTERS="jsonl", RECEIVER_JSONL_PATH=str(self.path)))

    def delivered_ids(self):
        return [json.loads(line)["id"] for line in self.path.read_text().splitlines()]

    def test_writes_the_normalized_event(self):
        event = sample_events()["e-livechat-session-close"]
        self.make_adapter().deliver(event)
        assert json.loads(self.path.read_text()) == event

    def test_unwritable_path_is_retried(self, tmp_path):
        adapter = JsonlAdapter(settings(RECEIVER_ADAPTERS="jsonl",
                                        RECEIVER_JSONL_PATH=str(tmp_path / "no" / "such.jsonl")))
        assert isinstance(adapter.deliver(sample_events()["e-message-agent"]), RetryLater)


def _append_many(path, worker):
    adapter = JsonlAdapter(settings(RECEIVER_ADAPTERS="jsonl", RECEIVER_JSONL_PATH=path))
    event = sample_events()["e-livechat-session-close"]
    for n in range(100):
        event["messages"][0]["text"] = f"{worker}-{n}-" + "x" * 70_000  # past any atomic-write size
        adapter.deliver(event)


def test_jsonl_lines_never_interleave_across_processes(tmp_path):
    path = str(tmp_path / "shared.jsonl")
    processes = [multiprocessing.get_context("fork").Process(target=_append_many, args=(path, w))
                 for w in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    lines = open(path).read().splitlines()
    assert len(lines) == 400
    assert all(json.loads(line)["kind"] == "chat.closed" for line in lines)


def http_adapter(url, timeout="2"):
    return HttpAdapter(settings(RECEIVER_ADAPTERS="http", RECEIVER_HTTP_URL=url,
                                RECEIVER_HTTP_SECRET=SECRET, RECEIVER_HTTP_TIMEOUT=timeout))


class TestHttpAdapter(AdapterContract):
    @pytest.fixture(autouse=True)
    def _crm(self, crm):
        self.crm = crm

    def make_adapter(self):
        return http_adapter(self.crm.url)

    def delivered_ids(self):
        return self.crm.delivered_ids()

    def test_posts_the_event_signed_with_its_id(self):
        event = sample_events()["e-message-agent"]
        assert self.make_adapter().deliver(event) == Delivered(detail="HTTP 200")
        request = self.crm.received[0]
        assert request["verified"] is True
        assert request["headers"]["webhook-id"] == event["id"]
        assert request["event"] == event

    def test_reuses_its_connection(self):
        adapter = self.make_adapter()
        for event in list(sample_events().values())[:5]:
            adapter.deliver(event)
        assert len(adapter.pool.pools) == 1
        assert all(r["headers"].get("connection") != "close" for r in self.crm.received)


@pytest.mark.parametrize("answer, outcome, delay", [
    (Answer(201), Delivered, None),
    (Answer(204, body=b""), Delivered, None),
    (Answer(500), RetryLater, None),
    (Answer(503, {"Retry-After": "30"}), RetryLater, 30),
    (Answer(429, {"Retry-After": "120"}), RetryLater, 120),
    (Answer(408), RetryLater, None),
    (Answer(400), Failed, None),
    (Answer(307, {"Location": "/other"}), Failed, None),
    (Answer(401), Failed, None),
    (Answer(404), Failed, None),
    (Answer(410), Failed, None),
])
def test_http_status_mapping(crm, answer, outcome, delay):
    crm.answer(answer)
    result = http_adapter(crm.url).deliver(sample_events()["e-message-agent"])
    assert isinstance(result, outcome)
    if outcome is RetryLater:
        assert result.delay == delay
        assert str(answer.status) in result.reason


def test_http_hang_past_the_timeout_is_retried(crm):
    crm.answer(Answer(200, delay=1.5))
    result = http_adapter(crm.url, timeout="0.5").deliver(sample_events()["e-message-agent"])
    assert isinstance(result, RetryLater) and "within 0.5 s" in result.reason


def test_http_unreachable_is_retried():
    result = http_adapter("http://127.0.0.1:9/none").deliver(sample_events()["e-message-agent"])
    assert isinstance(result, RetryLater) and "cannot reach" in result.reason


def test_retry_after_as_a_date():
    now = datetime(2025, 3, 4, 12, 0, tzinfo=timezone.utc)
    assert retry_after_seconds("Tue, 04 Mar 2025 12:01:30 GMT", now) == 90
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None


def test_signing_secret_must_be_valid():
    with pytest.raises(ConfigError, match="RECEIVER_HTTP_SECRET"):
        settings(RECEIVER_ADAPTERS="http", RECEIVER_HTTP_URL="http://x", RECEIVER_HTTP_SECRET="!!")


def test_unknown_adapter_name_stops_the_start():
    with pytest.raises(ConfigError, match="RECEIVER_ADAPTERS names nosuchcrm"):
        registry.check_names(["log", "nosuchcrm"])


def test_a_broken_plugin_is_reported_and_the_others_load(monkeypatch):
    installed = registry.installed()
    installed["brokencrm"] = EntryPoint("brokencrm", "receiver_brokencrm:Adapter", registry.GROUP)
    monkeypatch.setattr(registry, "installed", lambda: installed)
    adapters, broken = registry.build(["log", "brokencrm"], settings())
    assert list(adapters) == ["log"]
    assert "ModuleNotFoundError" in broken["brokencrm"]


def test_builtins_are_registered_as_entry_points():
    assert {"log", "jsonl", "http"} <= set(registry.installed())


def through_proxy(monkeypatch, variable: str, proxy_url: str) -> None:
    """Set `variable` (HTTP_PROXY or HTTPS_PROXY) with no NO_PROXY exception in the way."""
    monkeypatch.setenv(variable, proxy_url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)


def test_http_adapter_reads_proxy_and_ca_settings_once(monkeypatch):
    through_proxy(monkeypatch, "HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/company-ca.pem")
    pool = http_adapter("https://crm.example/events").pool
    assert pool.proxy.url == "http://proxy.example:3128"
    assert pool.connection_pool_kw["ca_certs"] == "/etc/ssl/company-ca.pem"


def test_http_adapter_goes_direct_to_hosts_in_no_proxy(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "crm.internal")
    pool = http_adapter("https://crm.internal/events").pool
    assert getattr(pool, "proxy", None) is None


@pytest.fixture
def tls_crm(tmp_path):
    """A CRM serving HTTPS with a certificate from a private CA; yields it and the CA's file."""
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(context)
    bundle = tmp_path / "company-ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    with FakeCrm(tls=context) as crm:
        yield crm, str(bundle)


def test_http_adapter_refuses_a_certificate_it_cannot_verify(tls_crm, monkeypatch):
    crm, _ = tls_crm
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    result = http_adapter(crm.url).deliver(sample_events()["e-message-agent"])
    assert isinstance(result, RetryLater) and "SSLError" in result.reason
    assert crm.received == []


def test_http_adapter_trusts_the_ca_bundle_of_the_environment(tls_crm, monkeypatch):
    crm, bundle = tls_crm
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", bundle)
    event = sample_events()["e-message-agent"]
    assert isinstance(http_adapter(crm.url).deliver(event), Delivered)
    assert crm.delivered_ids() == [event["id"]]


def test_http_adapter_trusts_a_folder_of_hashed_certificates(tls_crm, tmp_path, monkeypatch):
    if not shutil.which("openssl"):
        pytest.skip("needs the openssl command to name the certificate by its subject hash")
    crm, bundle = tls_crm
    subject_hash = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", bundle],
                                  capture_output=True, text=True, check=True).stdout.strip()
    folder = tmp_path / "certs"
    folder.mkdir()
    shutil.copy(bundle, folder / f"{subject_hash}.0")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(folder))
    assert isinstance(http_adapter(crm.url).deliver(sample_events()["e-message-agent"]),
                      Delivered)


def test_http_adapter_posts_through_the_environment_proxy(crm, monkeypatch):
    proxy = crm  # the fake answers whatever reaches it, as a forward proxy would relay it
    through_proxy(monkeypatch, "HTTP_PROXY", proxy.url.removesuffix("/events"))
    event = sample_events()["e-message-agent"]
    assert isinstance(http_adapter("http://crm.invalid/events").deliver(event), Delivered)
    assert [request["path"] for request in proxy.received] == ["http://crm.invalid/events"]


def test_http_credentials_in_the_url_go_in_a_header_and_nowhere_else(crm):
    with_credentials = crm.url.replace("http://", "http://hook%40corp:s%3Acret@")
    event = sample_events()["e-message-agent"]
    assert isinstance(http_adapter(with_credentials).deliver(event), Delivered)
    (request,) = crm.received
    assert request["headers"]["authorization"] == "Basic " + base64.b64encode(
        b"hook@corp:s:cret").decode()
    assert "s%3Acret" not in request["path"]
    unreachable = http_adapter("http://hook:s3cret@127.0.0.1:9/none").deliver(event)
    assert isinstance(unreachable, RetryLater) and "s3cret" not in unreachable.reason


def test_http_proxy_credentials_go_to_the_proxy(crm, monkeypatch):
    proxy = crm
    through_proxy(monkeypatch, "HTTP_PROXY",
                  proxy.url.replace("http://", "http://me:pw@").removesuffix("/events"))
    http_adapter("http://crm.invalid/events").deliver(sample_events()["e-message-agent"])
    (request,) = proxy.received
    assert request["headers"]["proxy-authorization"] == "Basic " + base64.b64encode(
        b"me:pw").decode()
    assert "authorization" not in request["headers"]


def test_http_redirect_is_a_dead_letter_not_a_lost_body(crm):
    crm.answer(Answer(301, {"Location": "https://elsewhere.example/events"}))
    result = http_adapter(crm.url).deliver(sample_events()["e-message-agent"])
    assert isinstance(result, Failed)
    assert "HTTP 301" in result.reason and "elsewhere.example" in result.reason
    assert len(crm.received) == 1  # not followed


def test_a_crm_delivery_stops_calling_once_its_time_budget_is_spent():
    from freezegun import freeze_time

    from receiver.adapters.api import ApiSession, Transient

    with freeze_time("2025-03-04 10:00:00") as clock:
        api = ApiSession("Some CRM", budget_seconds=15)
        api.start()
        clock.tick(15)
        with pytest.raises(Transient, match="longer than the 15 s a delivery may take"):
            api.request("GET", "http://127.0.0.1:9/never-called")
    api.close()
