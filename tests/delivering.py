"""Delivery to the fake CRM: the environment that points at it, a drained worker, the order seen."""

from .crm import SECRET


def delivering_to(environment: dict, crm, *, timeout: str, lease: str) -> dict:
    """The environment with the `http` adapter pointed at the fake CRM."""
    environment.update(RECEIVER_ADAPTERS="http", RECEIVER_HTTP_URL=crm.url,
                       RECEIVER_HTTP_SECRET=SECRET, RECEIVER_HTTP_TIMEOUT=timeout,
                       RECEIVER_LEASE_SECONDS=lease)
    return environment


def drain(worker) -> int:
    """Deliver everything due now; how many deliveries were attempted."""
    steps = 0
    while worker.step():
        steps += 1
    return steps


def in_arrival_order(delivered: list[str], ids: list[str]) -> list[str]:
    """Those of `ids` found in `delivered`, in the order they were delivered."""
    wanted = set(ids)
    return [i for i in delivered if i in wanted]
