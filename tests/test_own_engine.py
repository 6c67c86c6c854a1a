"""A CRM adapter reaches the receiver's database through one engine for all its parts."""

import pytest

from receiver.adapters import Delivered
from receiver.adapters import own_engine
from receiver.testing import sample_events

from .crm_adapters import hubspot_adapter, zoho_adapter
from .fakes.hubspot import FakeHubSpot
from .fakes.zoho import FakeZoho

CRMS = {"hubspot": (FakeHubSpot, hubspot_adapter), "zoho": (FakeZoho, zoho_adapter)}


@pytest.mark.parametrize("vendor", CRMS)
def test_links_notes_and_the_rate_budget_share_one_engine(database_url, monkeypatch, vendor):
    made = []

    def counted(*args, **kwargs):
        made.append(make_engine(*args, **kwargs))
        return made[-1]

    make_engine = own_engine.make_engine
    monkeypatch.setattr(own_engine, "make_engine", counted)
    fake_crm, adapter_for = CRMS[vendor]
    with fake_crm() as crm:
        adapter = adapter_for(crm.url, database_url)
        close = sample_events()["e-livechat-session-close"]
        assert isinstance(adapter.deliver(close), Delivered)  # budget, links and a note
        assert adapter.memory.engine is adapter.api.limits.store.engine
        adapter.close()
    assert len(made) == 1
