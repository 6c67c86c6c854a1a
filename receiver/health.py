"""Health endpoints for the platform: the process answers, the store answers, adapters connect.

Anyone may call them, so they say only `ok` or `failed`; why a check failed (which may
name URLs, hosts or paths) is shown to callers that present RECEIVER_METRICS_TOKEN as
a bearer token, and by `receiver adapters check`.
"""

from flask import Blueprint, jsonify, request

from .metrics import holds_token
from .readiness import Check, check_adapter
from .responses import error_response
from .state import current
from .store.schema import current_revision
from .store.upgrade_needed import revision_problem

FLAGS = {"0": False, "false": False, "1": True, "true": True}

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process is up and serving requests."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """The store answers in time; with `?adapters=1`, each adapter's latest check passed too."""
    flag = request.args.get("adapters", "0")
    if flag not in FLAGS:
        return error_response(400, "adapters must be 0, 1, true or false")
    store = store_check()
    adapters = current().adapter_checks.latest() if FLAGS[flag] else {}
    ready = store.ok and all(check.ok for check in adapters.values())
    checks = shown({"store": store})
    if FLAGS[flag]:
        # Which adapters are configured is configuration too: anonymous callers get one word.
        checks["adapters"] = shown(adapters) if holds_token() else (
            "ok" if all(check.ok for check in adapters.values()) else "failed")
    response = jsonify(status="ok" if ready else "unavailable", checks=checks)
    response.status_code = 200 if ready else 503
    return response


def store_check() -> Check:
    """A read that takes no lock, within the store timeout, of a schema this release can use."""
    try:
        # Reading the schema's revision is the read that proves the store answers.
        found = current_revision(current().engine)
    except Exception as error:  # any failure means "not ready", and says why
        return Check(False, f"failed: {type(error).__name__}")
    problem = revision_problem(found)
    if problem:
        current().upgrade_notice.tell(problem)
        return Check(False, f"failed: {problem}")
    return Check(True, "ok")


def shown(checks: dict[str, Check]) -> dict:
    """Each check's detail for a caller with the metrics token; only `ok` or `failed` otherwise."""
    if holds_token():
        return {name: check.detail for name, check in checks.items()}
    return {name: "ok" if check.ok else "failed" for name, check in checks.items()}


def check_adapters() -> dict[str, str]:
    """Each configured adapter's connection check, run now, as `ok: …` or `failed: …`."""
    from .adapters import registry

    settings = current().settings
    adapters, broken = registry.build(settings.adapters, settings)
    results = {name: f"failed: cannot load: {error}" for name, error in broken.items()}
    for name, adapter in adapters.items():
        try:
            results[name] = check_adapter(adapter).detail
        finally:
            adapter.close()
    return results
