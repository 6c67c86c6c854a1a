"""The HubSpot and Zoho adapters pointed at their fakes, keeping their state in a given store."""

from receiver.adapters.hubspot import HubSpotAdapter
from receiver.adapters.zoho import ZohoAdapter
from receiver.config import load_settings

from .fakes import hubspot, zoho


def hubspot_adapter(url: str, database_url: str) -> HubSpotAdapter:
    """A `hubspot` adapter for the fake HubSpot at `url`."""
    return HubSpotAdapter(load_settings({
        "ROCKETCHAT_LIVECHAT_TOKEN": "t", "RECEIVER_ADAPTERS": "hubspot",
        "RECEIVER_HUBSPOT_TOKEN": hubspot.TOKEN, "RECEIVER_HUBSPOT_API_URL": url,
        "DATABASE_URL": database_url}))


def zoho_adapter(url: str, database_url: str) -> ZohoAdapter:
    """A `zoho` adapter for the fake Zoho at `url`, with no visitor-token field."""
    return ZohoAdapter(load_settings({
        "ROCKETCHAT_LIVECHAT_TOKEN": "t", "RECEIVER_ADAPTERS": "zoho",
        "RECEIVER_ZOHO_CLIENT_ID": zoho.CLIENT_ID,
        "RECEIVER_ZOHO_CLIENT_SECRET": zoho.CLIENT_SECRET,
        "RECEIVER_ZOHO_REFRESH_TOKEN": zoho.REFRESH_TOKEN, "RECEIVER_ZOHO_ACCOUNTS_URL": url,
        "DATABASE_URL": database_url}))
