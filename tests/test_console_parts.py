"""The console's small pieces: CRM record links and chart layout, each from a table."""

from datetime import datetime, timezone

import pytest

from receiver.console import backlog, charts
from receiver.console.records import record_links


@pytest.mark.parametrize("known, environ, expected", [
    ({"hubspot": {"contact_id": "51"}}, {"RECEIVER_HUBSPOT_PORTAL_ID": "123"},
     ("HubSpot contact 51", "https://app.hubspot.com/contacts/123/record/0-1/51")),
    ({"hubspot": {"contact_id": "51"}}, {}, ("HubSpot contact 51", None)),
    ({"zoho": {"module": "Leads", "record_id": "9"}}, {"RECEIVER_ZOHO_DATA_CENTER": "eu"},
     ("Zoho Leads 9", "https://crm.zoho.eu/crm/tab/Leads/9")),
    ({"zoho": {"record_id": "9"}}, {}, ("Zoho Contacts 9", "https://crm.zoho.com/crm/tab/Contacts/9")),
    ({"zoho": {"record_id": "9"}}, {"RECEIVER_ZOHO_DATA_CENTER": "au"},
     ("Zoho Contacts 9", "https://crm.zoho.com.au/crm/tab/Contacts/9")),
    ({"zoho": {"record_id": "9"}}, {"RECEIVER_ZOHO_DATA_CENTER": "ca"},
     ("Zoho Contacts 9", "https://crm.zohocloud.ca/crm/tab/Contacts/9")),
    ({"acme": {"ticket": "T-1"}}, {}, ("ticket T-1", None)),
])
def test_record_links(known, environ, expected):
    (link,) = record_links(known, environ)
    assert (link.label, link.url) == expected


def test_bars_stack_by_series_and_scale_to_the_busiest_hour():
    hours = ["2025-03-04 10", "2025-03-04 11"]
    chart = charts.stacked("t", hours, {(hours[0], "delivered"): 3, (hours[0], "retry"): 1,
                                        (hours[1], "delivered"): 2}, ("delivered", "retry"))
    assert chart.top == 4
    first, second, third = chart.bars
    plot = charts.HEIGHT - charts.BOTTOM - charts.TOP
    assert (first.series, first.height) == ("delivered", round(plot * 3 / 4, 1))
    assert (second.series, second.height) == ("retry", round(plot / 4, 1))
    assert second.y + second.height == pytest.approx(first.y, abs=0.2)  # stacked on top
    assert third.height == round(plot / 2, 1) and third.x > first.x
    assert first.title == "2025-03-04 10:00 UTC: 3 delivered"


def test_an_empty_chart_has_no_bars_and_a_unit_axis():
    chart = charts.single("t", ["2025-03-04 10"], {}, "events")
    assert chart.bars == [] and chart.top == 1


def test_the_last_hours_end_with_the_current_one():
    now = datetime(2025, 3, 4, 10, 42, tzinfo=timezone.utc)
    hours = backlog.hours(now, 48)
    assert len(hours) == 48 and hours[-1] == now.replace(minute=0)
    assert backlog.hour_key(hours[0]) == "2025-03-02 11"
