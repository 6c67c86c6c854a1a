"""Links from a conversation to the CRM records its deliveries created, once their ids are known."""

from dataclasses import dataclass

from ..adapters.zoho.settings import DATA_CENTERS

# A HubSpot record's page is under its account (portal) id, which the API token does not
# tell: RECEIVER_HUBSPOT_PORTAL_ID names it; without it the contact id is shown unlinked.
HUBSPOT_CONTACT = "https://app.hubspot.com/contacts/{portal}/record/0-1/{contact_id}"
# Zoho's web app lives on the data center's crm host; the API URL names the data center.
ZOHO_RECORD = "{site}/crm/tab/{module}/{record_id}"


@dataclass(frozen=True)
class RecordLink:
    """One CRM record: the adapter, what it is, and where to open it (None: no known URL)."""

    adapter: str
    label: str
    url: str | None


def _zoho_site(environ) -> str:
    """Zoho CRM's web address in the account's data center: its accounts host, for `crm`."""
    center = (environ.get("RECEIVER_ZOHO_DATA_CENTER") or "us").strip().lower()
    accounts_url, _ = DATA_CENTERS.get(center, DATA_CENTERS["us"])
    return accounts_url.replace("://accounts.", "://crm.", 1)


def record_links(known: dict[str, dict], environ) -> list[RecordLink]:
    """The links for each adapter's reported ids (see store/links.py), in adapter order."""
    found = []
    for adapter, refs in sorted(known.items()):
        if adapter == "hubspot" and refs.get("contact_id"):
            portal = (environ.get("RECEIVER_HUBSPOT_PORTAL_ID") or "").strip()
            url = HUBSPOT_CONTACT.format(portal=portal, contact_id=refs["contact_id"])
            found.append(RecordLink(adapter, f"HubSpot contact {refs['contact_id']}",
                                    url if portal.isdigit() else None))
        elif adapter == "zoho" and refs.get("record_id"):
            module = refs.get("module") or "Contacts"
            found.append(RecordLink(adapter, f"Zoho {module} {refs['record_id']}",
                                    ZOHO_RECORD.format(site=_zoho_site(environ),
                                                       module=module,
                                                       record_id=refs["record_id"])))
        else:
            label = ", ".join(f"{key} {value}" for key, value in sorted(refs.items()))
            found.append(RecordLink(adapter, label or "no ids", None))
    return found
