"""The `hubspot` adapter's settings, read from RECEIVER_HUBSPOT_* variables."""

from dataclasses import dataclass, field

from ...config import ConfigError, read_flag, read_mapping, read_number
from ..overwrite import read_overwrite_fields
from ..ratelimit import Rate, read_rate

DEFAULT_API_URL = "https://api.hubapi.com"
DEFAULT_TOKEN_PROPERTY = "rocketchat_visitor_token"
# HubSpot documents no bound on how long search takes to show a write; a minute is ample.
DEFAULT_SEARCH_LAG_SECONDS = 60.0
# A private app's limits on Free and Starter plans (Professional and Enterprise: 190/10).
DEFAULT_RATE_LIMIT = Rate(100, 10.0)
DEFAULT_SEARCH_RATE_LIMIT = Rate(4, 1.0)


@dataclass(frozen=True)
class HubSpotSettings:
    """Where HubSpot is, how to sign in, and which contact properties the receiver writes."""

    token: str = field(repr=False)
    api_url: str = DEFAULT_API_URL
    token_property: str = DEFAULT_TOKEN_PROPERTY
    custom_fields: dict = field(default_factory=dict)
    include_test: bool = False
    overwrite_fields: frozenset = frozenset()
    search_lag_seconds: float = DEFAULT_SEARCH_LAG_SECONDS
    rate_limit: Rate = DEFAULT_RATE_LIMIT
    search_rate_limit: Rate = DEFAULT_SEARCH_RATE_LIMIT

    @classmethod
    def from_environ(cls, environ) -> "HubSpotSettings":
        token = (environ.get("RECEIVER_HUBSPOT_TOKEN") or "").strip()
        if not token:
            raise ConfigError(
                "RECEIVER_HUBSPOT_TOKEN is required when RECEIVER_ADAPTERS includes hubspot: "
                "create a private app in HubSpot (Settings > Integrations > Private Apps) with "
                "the crm.objects.contacts.read and crm.objects.contacts.write scopes and paste "
                "its access token"
            )
        token_property = environ.get("RECEIVER_HUBSPOT_TOKEN_PROPERTY") or DEFAULT_TOKEN_PROPERTY
        return cls(
            token=token,
            api_url=(environ.get("RECEIVER_HUBSPOT_API_URL") or DEFAULT_API_URL).rstrip("/"),
            token_property=token_property,
            custom_fields=read_mapping(environ, "RECEIVER_HUBSPOT_CUSTOM_FIELDS"),
            include_test=read_flag(environ, "RECEIVER_HUBSPOT_INCLUDE_TEST"),
            overwrite_fields=read_overwrite_fields(environ, "RECEIVER_HUBSPOT_OVERWRITE_FIELDS",
                                                   token_property),
            search_lag_seconds=read_number(environ, "RECEIVER_HUBSPOT_SEARCH_LAG_SECONDS",
                                           DEFAULT_SEARCH_LAG_SECONDS),
            rate_limit=read_rate(environ, "RECEIVER_HUBSPOT_RATE_LIMIT", DEFAULT_RATE_LIMIT),
            search_rate_limit=read_rate(environ, "RECEIVER_HUBSPOT_SEARCH_RATE_LIMIT",
                                        DEFAULT_SEARCH_RATE_LIMIT),
        )
