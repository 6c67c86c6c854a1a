"""The `zoho` adapter's settings, read from RECEIVER_ZOHO_* variables."""

from dataclasses import dataclass, field

from ...config import ConfigError, read_flag, read_mapping, read_number
from ..overwrite import read_overwrite_fields
from ..ratelimit import Rate, read_rate

# Zoho keeps each account in one data center, with its own sign-in and API hosts.
DATA_CENTERS = {
    "us": ("https://accounts.zoho.com", "https://www.zohoapis.com"),
    "eu": ("https://accounts.zoho.eu", "https://www.zohoapis.eu"),
    "in": ("https://accounts.zoho.in", "https://www.zohoapis.in"),
    "au": ("https://accounts.zoho.com.au", "https://www.zohoapis.com.au"),
    "jp": ("https://accounts.zoho.jp", "https://www.zohoapis.jp"),
    "ca": ("https://accounts.zohocloud.ca", "https://www.zohoapis.ca"),
    "cn": ("https://accounts.zoho.com.cn", "https://www.zohoapis.com.cn"),
    "sa": ("https://accounts.zoho.sa", "https://www.zohoapis.sa"),
}
MODULES = ("Contacts", "Leads")
# Zoho documents no bound on how long search takes to show a write; a minute is ample.
DEFAULT_SEARCH_LAG_SECONDS = 60.0
# A Standard organisation's base allowance of API credits per rolling 24 hours.
DEFAULT_RATE_LIMIT = Rate(50_000, 86_400.0)
REQUIRED = ("RECEIVER_ZOHO_CLIENT_ID", "RECEIVER_ZOHO_CLIENT_SECRET", "RECEIVER_ZOHO_REFRESH_TOKEN")


@dataclass(frozen=True)
class ZohoSettings:
    """The OAuth client and refresh token, the data center, and where records go."""

    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    accounts_url: str = DATA_CENTERS["us"][0]
    api_url: str | None = None  # None: the api_domain Zoho returns with each access token
    module: str = "Contacts"
    token_field: str | None = None
    custom_fields: dict = field(default_factory=dict)
    include_test: bool = False
    overwrite_fields: frozenset = frozenset()
    search_lag_seconds: float = DEFAULT_SEARCH_LAG_SECONDS
    rate_limit: Rate = DEFAULT_RATE_LIMIT

    @classmethod
    def from_environ(cls, environ) -> "ZohoSettings":
        missing = [name for name in REQUIRED if not (environ.get(name) or "").strip()]
        if missing:
            raise ConfigError(
                f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} required when "
                "RECEIVER_ADAPTERS includes zoho: register a Self Client in the Zoho API "
                "console and generate a refresh token with the ZohoCRM.modules.ALL scope"
            )
        center = (environ.get("RECEIVER_ZOHO_DATA_CENTER") or "us").strip().lower()
        if center not in DATA_CENTERS:
            raise ConfigError(f"RECEIVER_ZOHO_DATA_CENTER must be one of "
                              f"{', '.join(DATA_CENTERS)}, got {center!r}")
        module = (environ.get("RECEIVER_ZOHO_MODULE") or "Contacts").strip()
        if module not in MODULES:
            raise ConfigError(f"RECEIVER_ZOHO_MODULE must be Contacts or Leads, got {module!r}")
        accounts_url, _ = DATA_CENTERS[center]
        token_field = (environ.get("RECEIVER_ZOHO_VISITOR_TOKEN_FIELD") or "").strip() or None
        return cls(
            client_id=environ["RECEIVER_ZOHO_CLIENT_ID"].strip(),
            client_secret=environ["RECEIVER_ZOHO_CLIENT_SECRET"].strip(),
            refresh_token=environ["RECEIVER_ZOHO_REFRESH_TOKEN"].strip(),
            accounts_url=(environ.get("RECEIVER_ZOHO_ACCOUNTS_URL") or accounts_url).rstrip("/"),
            api_url=(environ.get("RECEIVER_ZOHO_API_URL") or "").rstrip("/") or None,
            module=module,
            token_field=token_field,
            custom_fields=read_mapping(environ, "RECEIVER_ZOHO_CUSTOM_FIELDS"),
            include_test=read_flag(environ, "RECEIVER_ZOHO_INCLUDE_TEST"),
            overwrite_fields=read_overwrite_fields(environ, "RECEIVER_ZOHO_OVERWRITE_FIELDS",
                                                   token_field),
            search_lag_seconds=read_number(environ, "RECEIVER_ZOHO_SEARCH_LAG_SECONDS",
                                           DEFAULT_SEARCH_LAG_SECONDS),
            rate_limit=read_rate(environ, "RECEIVER_ZOHO_RATE_LIMIT", DEFAULT_RATE_LIMIT),
        )
