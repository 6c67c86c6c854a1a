"""Health endpoints: the process, the store, and each adapter's check, cached and kept private."""

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from freezegun import freeze_time

from receiver import cli, create_app
from receiver.readiness import CHECK_INTERVAL_SECONDS

from .fakes.server import ServedInThread
from .fakes.zoho import FakeZoho
from .test_zoho import zoho_environ

OPERATOR = {"Authorization": "Bearer scrape-me"}


def frozen_clock():
    """Frozen time for the checks' cache; the adapters' own deadlines keep real time."""
    return freeze_time(tick=True, ignore=["receiver.adapters", "urllib3", "requests"])


class CountingCrm(ServedInThread):
    """A CRM endpoint that counts the HEAD requests it gets and answers each with `status`."""

    def __init__(self, status: int = 200):
        self.status, self.heads = status, 0
        crm = self

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self):
                crm.heads += 1
                self.send_response(crm.status)
                self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        super().__init__(server)
        self.url = f"http://127.0.0.1:{server.server_address[1]}/events"


@pytest.fixture
def counting_crm():
    with CountingCrm() as crm:
        yield crm


def client_for(environment, url, **variables):
    environment.update(RECEIVER_ADAPTERS="http", RECEIVER_HTTP_URL=url,
                       RECEIVER_HTTP_TIMEOUT="5", RECEIVER_METRICS_TOKEN="scrape-me", **variables)
    return create_app(environment).test_client()


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_readyz_when_the_store_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "checks": {"store": "ok"}}


def test_readyz_is_503_when_the_database_does_not_answer(environment):
    environment["DATABASE_URL"] = "postgresql://postgres@127.0.0.1:1/none"
    environment["RECEIVER_STORE_TIMEOUT_SECONDS"] = "1"
    response = create_app(environment).test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["store"] == "failed"


def test_adapters_are_checked_only_when_asked(environment, counting_crm):
    client = client_for(environment, counting_crm.url)
    for flag in ("0", "false"):
        assert "adapters" not in client.get(f"/readyz?adapters={flag}").get_json()["checks"]
    assert counting_crm.heads == 0
    assert client.get("/readyz?adapters=true").get_json()["checks"]["adapters"] == "ok"
    assert counting_crm.heads == 1


@pytest.mark.parametrize("flag", ["yes", "2", "", "TRUE"])
def test_an_unclear_adapters_flag_is_refused(environment, counting_crm, flag):
    response = client_for(environment, counting_crm.url).get(f"/readyz?adapters={flag}")
    assert response.status_code == 400 and counting_crm.heads == 0


def test_probes_reuse_one_check_per_interval(environment, counting_crm):
    client = client_for(environment, counting_crm.url)
    with frozen_clock() as frozen:
        for _ in range(20):
            assert client.get("/readyz?adapters=1").status_code == 200
        assert counting_crm.heads == 1
        frozen.tick(2 * CHECK_INTERVAL_SECONDS)
        for _ in range(20):
            client.get("/readyz?adapters=1")
        assert counting_crm.heads == 2


def test_anonymous_callers_see_no_configuration(environment):
    client = client_for(environment, "http://127.0.0.1:9/none")
    anonymous = client.get("/readyz?adapters=1")
    assert anonymous.status_code == 503
    assert anonymous.get_json()["checks"] == {"store": "ok", "adapters": "failed"}
    operator = client.get("/readyz?adapters=1", headers=OPERATOR).get_json()
    reported = operator["checks"]["adapters"]["http"]
    assert reported.startswith("failed: NewConnectionError") and "port=9" in reported


def test_a_redirect_is_a_failed_check(environment):
    with CountingCrm(status=302) as crm:
        client = client_for(environment, crm.url)
        response = client.get("/readyz?adapters=1", headers=OPERATOR)
    assert response.status_code == 503
    assert "HTTP 302" in response.get_json()["checks"]["adapters"]["http"]


def test_a_crm_that_never_answers_is_waited_for_about_a_second_and_not_called_again(environment):
    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        client = client_for(environment, f"http://127.0.0.1:{silent.getsockname()[1]}/events")
        with frozen_clock() as frozen:
            first = client.get("/readyz?adapters=1", headers=OPERATOR).get_json()
            frozen.tick(2 * CHECK_INTERVAL_SECONDS)
            second = client.get("/readyz?adapters=1", headers=OPERATOR).get_json()
    assert first["checks"]["adapters"]["http"] == "failed: no answer within 1 s"
    assert second["checks"]["adapters"]["http"] == (
        "failed: the previous check has not answered yet")


def test_zoho_checks_reuse_the_access_token_in_hand(environment):
    with FakeZoho() as zoho, frozen_clock() as frozen:
        environment.update(zoho_environ(zoho.url), RECEIVER_METRICS_TOKEN="scrape-me")
        client = create_app(environment).test_client()
        for _ in range(5):
            answer = client.get("/readyz?adapters=1", headers=OPERATOR).get_json()
            assert answer["checks"]["adapters"]["zoho"].startswith("ok: "), answer
            frozen.tick(2 * CHECK_INTERVAL_SECONDS)
    assert zoho.token_grants == 1


def test_concurrent_probes_run_one_check(environment, counting_crm):
    client = client_for(environment, counting_crm.url)
    probes = [threading.Thread(target=client.get, args=("/readyz?adapters=1",))
              for _ in range(8)]
    for probe in probes:
        probe.start()
    for probe in probes:
        probe.join()
    assert counting_crm.heads == 1


def test_the_cli_check_shows_details(environment, counting_crm):
    app = create_app({**environment, "RECEIVER_ADAPTERS": "http",
                      "RECEIVER_HTTP_URL": counting_crm.url})
    result = app.test_cli_runner().invoke(cli.main, ["adapters", "check"])
    assert result.exit_code == 0 and counting_crm.url in result.output, result.output
