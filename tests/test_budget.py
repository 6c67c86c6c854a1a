"""The shared rate budget: the bucket's arithmetic, its table on both databases, the waits,
and two worker processes that together stay under a HubSpot limit without a 429."""

import pytest
from sqlalchemy import create_engine, delete

from receiver.adapters.api import Transient
from receiver.adapters.own_engine import OwnEngine
from receiver.adapters.ratelimit import Budget, BudgetStore, Rate, account_key, read_rate
from receiver.config import ConfigError
from receiver.store import budget
from receiver.store.budget import Bucket
from receiver.store.tables import rate_budgets

from .builders import payload
from .stored import delivery_states
from .fakes.hubspot import TOKEN, FakeHubSpot
from .servers import wait_for, workers

BUCKET = Bucket(capacity=10.0, per_second=8.0)


@pytest.mark.parametrize("tokens, refilled_at, now, level", [
    (0.0, 100.0, 100.0, 0.0),
    (0.0, 100.0, 100.5, 4.0),    # half a second at 8 a second
    (3.0, 100.0, 101.0, 10.0),   # never above capacity
    (5.0, 100.0, 99.0, 5.0),     # a clock behind the last refill adds nothing
])
def test_a_bucket_refills_at_its_rate_up_to_its_capacity(tokens, refilled_at, now, level):
    assert BUCKET.level(tokens, refilled_at, now) == level


@pytest.mark.parametrize("tokens, want, granted, wait", [
    (10.0, 3, 3, 0.0),
    (2.5, 3, 2, 0.0),    # what it holds, when it holds at least one
    (0.5, 3, 0, 0.0625),  # else how long until it holds one
    (0.0, 1, 0, 0.125),
])
def test_a_bucket_grants_what_it_holds_or_says_how_long_to_wait(tokens, want, granted, wait):
    assert BUCKET.grant(tokens, want) == (granted, wait)


@pytest.mark.parametrize("calls, seconds", [(100, 10.0), (190, 10.0), (4, 1.0), (100, 1.0)])
def test_no_window_sees_more_calls_than_the_limit(calls, seconds):
    """Capacity, plus a window's refill, plus the refill of the time a reserve may be held."""
    bucket = Rate(calls, seconds).bucket()
    assert int(bucket.capacity + bucket.per_second * seconds * 1.1) <= calls


def test_rates_are_read_as_calls_per_seconds():
    assert read_rate({"R": "190/10"}, "R", Rate(1, 1)) == Rate(190, 10.0)
    assert read_rate({}, "R", Rate(1, 1)) == Rate(1, 1)
    for wrong in ("fast", "0/10", "10/0"):
        with pytest.raises(ConfigError, match="R must"):
            read_rate({"R": wrong}, "R", Rate(1, 1))


def test_an_account_key_names_the_vendor_not_the_secret():
    key = account_key("hubspot", TOKEN)
    assert key.startswith("hubspot:") and TOKEN not in key
    assert key == account_key("hubspot", TOKEN) != account_key("hubspot", TOKEN + "x")


@pytest.fixture
def database_url(database_url):
    """The database, without the buckets an earlier test on PostgreSQL left."""
    with create_engine(database_url).begin() as conn:
        conn.execute(delete(rate_budgets))
    return database_url


@pytest.fixture
def store(database_url):
    store = BudgetStore(OwnEngine(database_url, 5.0))
    yield store
    store.close()


def test_the_table_grants_each_token_once_then_says_how_long_to_wait(store):
    bucket = Bucket(capacity=3.0, per_second=2.0)
    assert store.run(budget.take, "crm:a", bucket, 2, 100.0) == (2, 0.0)
    assert store.run(budget.take, "crm:a", bucket, 2, 100.0) == (1, 0.0)
    assert store.run(budget.take, "crm:a", bucket, 1, 100.0) == (0, 0.5)
    assert store.run(budget.take, "crm:a", bucket, 1, 100.5) == (1, 0.0)
    assert store.run(budget.take, "crm:b", bucket, 5, 100.5) == (3, 0.0)  # a bucket per key


def test_a_429_stops_the_bucket_until_it_lifts_and_remaining_lowers_it(store):
    bucket = Bucket(capacity=10.0, per_second=1.0)
    store.run(budget.take, "crm:a", bucket, 1, 100.0)
    store.run(budget.lower, "crm:a", 2.0)
    assert store.run(budget.take, "crm:a", bucket, 5, 100.0) == (2, 0.0)
    store.run(budget.block, "crm:a", 110.0)
    assert store.run(budget.take, "crm:a", bucket, 1, 104.0) == (0, 6.0)
    assert store.run(budget.take, "crm:a", bucket, 1, 110.0) == (0, 1.0)  # starts empty then
    assert store.run(budget.take, "crm:a", bucket, 1, 111.0) == (1, 0.0)


class Clock:
    """A clock that moves only when the budget sleeps."""

    def __init__(self):
        self.now, self.slept = 1000.0, []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_a_worker_waits_for_budget_within_its_deadline_and_else_retries_later(store):
    clock = Clock()
    spending = Budget(store, "hubspot:x", Rate(10, 10.0), clock=clock, sleep=clock.sleep)
    spending.take(within=5.0)  # the bucket's one call: capacity is a tenth of the limit
    spending.take(within=5.0)  # waits about 1/0.8 s for the next
    assert len(clock.slept) == 1 and 1.25 <= clock.slept[0] <= 1.25 * 1.1
    with pytest.raises(Transient, match="waiting for the rate budget of hubspot") as refused:
        spending.take(within=0.5)
    assert 1.25 <= refused.value.delay <= 1.25 * 1.1


def test_calls_reserved_at_once_skip_the_store_and_lapse(store):
    clock = Clock()
    spending = Budget(store, "hubspot:x", Rate(100, 10.0), clock=clock, sleep=clock.sleep)
    spending.take(within=1.0)
    assert spending.reserved == 2  # three taken in one transaction
    clock.now += 1.01  # past a tenth of the window: the reserve lapses
    spending.take(within=1.0)
    assert spending.reserved == 2 and clock.slept == []


def test_a_store_that_cannot_keep_the_budget_does_not_stop_the_calls(tmp_path, caplog):
    store = BudgetStore(OwnEngine(f"sqlite:///{tmp_path / 'no-schema.sqlite3'}", 1.0))
    spending = Budget(store, "hubspot:x", Rate(1, 10.0))
    for _ in range(3):
        spending.take(within=0.1)  # no table: each call goes, unbudgeted, and says so
    spending.remaining(0)
    spending.refused(10.0)
    store.close()
    assert "the rate budget is not kept while the store is unavailable" in caplog.text


PER_WINDOW, WINDOW, CHATS = 10, 1.0, 12


@pytest.fixture
def hubspot():
    with FakeHubSpot(per_window=PER_WINDOW, window=WINDOW, searches=4, search_window=0.2,
                     search_lag=0.2) as fake:
        yield fake


@pytest.fixture
def environment(environment, hubspot):
    environment.update(
        RECEIVER_ADAPTERS="hubspot", RECEIVER_HUBSPOT_TOKEN=TOKEN,
        RECEIVER_HUBSPOT_API_URL=hubspot.url, RECEIVER_HUBSPOT_SEARCH_LAG_SECONDS="0.4",
        RECEIVER_HUBSPOT_RATE_LIMIT=f"{PER_WINDOW}/{WINDOW}",
        RECEIVER_HUBSPOT_SEARCH_RATE_LIMIT="4/0.2")
    return environment


@pytest.mark.slow
def test_two_worker_processes_share_one_budget_without_a_429(environment, post, engine,
                                                              hubspot):
    """10 calls per second for the whole deployment, however many workers deliver."""
    for n in range(CHATS):
        for name in ("e-livechat-session-start", "e-livechat-session-close"):
            body = payload(name)
            body["_id"] = f"room-{n}"
            body["visitor"].update(token=f"token-{n}", _id=f"visitor-{n}")
            body["visitor"]["email"] = [{"address": f"v{n}@example.com"}]
            assert post(body).status_code == 200
    with workers(environment, 2):
        finished = wait_for(lambda: set(delivery_states(engine).values()) == {"delivered"},
                            timeout=120)
    traffic = hubspot.traffic.summary(WINDOW)
    print(f"\n{traffic}")
    assert finished
    assert traffic["throttled"] == 0
    assert traffic["peak_per_window"] <= PER_WINDOW
    assert traffic["calls"] > 2 * PER_WINDOW  # enough calls that the limit had to be kept
