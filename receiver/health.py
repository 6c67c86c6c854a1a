"""Health endpoints for the platform: the process answers, the store answers, adapters connect."""

from flask import Blueprint, jsonify, request
from sqlalchemy import text

from .config import get_settings
from .store.db import get_engine
from .store.transactions import transaction

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process is up and serving requests."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """The store answers within its timeout; with `?adapters=1`, each adapter's check passes too."""
    checks, ready = {}, True
    try:
        with transaction(get_engine(), one_statement=True) as conn:
            conn.execute(text("SELECT 1"))
        checks["store"] = "ok"
    except Exception as error:  # any failure means "not ready", and says why
        checks["store"] = f"failed: {type(error).__name__}"
        ready = False
    if request.args.get("adapters"):
        adapter_checks = check_adapters()
        checks["adapters"] = adapter_checks
        ready = ready and all(result.startswith("ok") for result in adapter_checks.values())
    response = jsonify(status="ok" if ready else "unavailable", checks=checks)
    response.status_code = 200 if ready else 503
    return response


def check_adapters() -> dict[str, str]:
    """Each configured adapter's connection check, as `ok: …` or `failed: …`."""
    from .adapters import registry

    settings = get_settings()
    adapters, broken = registry.build(settings.adapters, settings)
    results = {name: f"failed: cannot load: {error}" for name, error in broken.items()}
    for name, adapter in adapters.items():
        try:
            results[name] = f"ok: {adapter.check()}"
        except Exception as error:  # report the adapter's problem, never raise
            results[name] = f"failed: {type(error).__name__}: {error}"
        finally:
            adapter.close()
    return results
