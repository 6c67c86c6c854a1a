"""Zoho CRM records of one module as the matcher sees them: found, read, created, updated by id."""

from .client import ZohoClient
from .mapping import PLACEHOLDERS
from .settings import ZohoSettings

NAME_FIELDS = ("First_Name", "Last_Name")


class ZohoRecords:
    """Search finds by token field, email or phone (it lags writes); reads by id are current."""

    def __init__(self, client: ZohoClient, settings: ZohoSettings, module: str):
        self.client = client
        self.settings = settings
        self.module = module
        self.scope = f"zoho/{module}"
        self.placeholders = PLACEHOLDERS
        self.fields = [*NAME_FIELDS, "Email", "Phone", "Lead_Source",
                       *(["Company"] if module == "Leads" else []),
                       *([settings.token_field] if settings.token_field else []),
                       *settings.custom_fields.values()]

    def find(self, kind: str, value: str) -> str | None:
        if kind == "token":
            if not self.settings.token_field:
                return None  # Zoho does not hold the token: only remembered links know it
            return self.client.search(self.module, {
                "criteria": f"({self.settings.token_field}:equals:{value})"})
        return self.client.search(self.module, {kind: value})

    def read(self, record_id: str) -> dict | None:
        return self.client.read(self.module, record_id, self.fields)

    def create(self, fields: dict) -> tuple[str, bool]:
        return self.client.insert(self.module, fields)

    def update(self, record_id: str, fields: dict) -> None:
        self.client.update(self.module, record_id, fields)

    def name_of(self, held: dict) -> str | None:
        return " ".join(held.get(name) or "" for name in NAME_FIELDS).strip() or None
