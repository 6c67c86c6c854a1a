"""Several real gunicorn workers racing on the same bodies store each event once."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from . import servers
from .builders import TOKEN, payload
from .stored import count

pytestmark = pytest.mark.slow


def test_identical_posts_across_worker_processes_store_one_event(app, environment, engine):
    bodies = [json.dumps(payload(name)).encode() for name in (
        "e-livechat-session-close", "e-message-agent", "e-offline-message")]
    with servers.gunicorn(environment, workers=4) as web, ThreadPoolExecutor(24) as pool:
        answers = list(pool.map(lambda body: servers.post(web.url, body, TOKEN), bodies * 16))
    assert [status for status, _ in answers] == [200] * 48
    ids = {json.loads(body)["id"] for _, body in answers}
    assert len(ids) == 3
    assert count(engine, "events") == 3
    assert count(engine, "deliveries") == 3
