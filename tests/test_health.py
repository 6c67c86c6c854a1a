"""Health endpoints: the process, the store, and optionally each adapter."""

import pytest

from receiver import create_app

from .conftest import delivering_to


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_readyz_when_the_store_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "checks": {"store": "ok"}}


@pytest.fixture
def http_environment(environment, crm):
    return delivering_to(environment, crm, timeout="1", lease="5")


def test_readyz_checks_adapters_on_request(http_environment, client, crm):
    body = client.get("/readyz?adapters=1").get_json()
    assert body["status"] == "ok"
    assert body["checks"]["adapters"]["http"].startswith("ok: ")


def test_readyz_reports_an_unreachable_adapter(environment, client):
    environment.update(RECEIVER_ADAPTERS="http", RECEIVER_HTTP_URL="http://127.0.0.1:9/none")
    app = create_app(environment)
    response = app.test_client().get("/readyz?adapters=1")
    assert response.status_code == 503
    reported = response.get_json()["checks"]["adapters"]["http"]
    assert reported.startswith("failed: NewConnectionError") and "Connection refused" in reported


def test_readyz_is_503_when_the_database_does_not_answer(environment):
    environment["DATABASE_URL"] = "postgresql://postgres@127.0.0.1:1/none"
    environment["RECEIVER_STORE_TIMEOUT_SECONDS"] = "1"
    response = create_app(environment).test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["store"].startswith("failed")
