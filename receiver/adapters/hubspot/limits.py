"""HubSpot's limits as the shared rate budget sees them: one bucket per private app, one for search.

A private app may make 100 calls per rolling 10 s on Free and Starter (190 on Professional
and Enterprise), and the CRM search endpoints about four a second on top; search answers
carry no X-HubSpot-RateLimit-* headers, the others say how many calls the window has left.
https://developers.hubspot.com/docs/api/usage-details
"""

from ..api import json_of, asked_delay
from ..ratelimit import Budget, BudgetStore, Limits, account_key
from .client import limit_window

SEARCH_WINDOW_SECONDS = 1.0  # a 429 of the secondly search limit lifts within a second


class HubSpotLimits(Limits):
    """Every call takes from the app's bucket; a search takes from the search bucket too."""

    def __init__(self, settings, config):
        self.store = BudgetStore(settings.database_url, settings.store_timeout_seconds)
        key = account_key("hubspot", config.token)
        self.calls = Budget(self.store, key, config.rate_limit)
        self.searches = Budget(self.store, f"{key}:search", config.search_rate_limit)

    def budgets(self, method: str, url: str) -> list[Budget]:
        return [self.calls, self.searches] if url.endswith("/search") else [self.calls]

    def observe(self, method: str, url: str, response) -> None:
        if response.status_code == 429:
            searching = json_of(response).get("policyName") == "SECONDLY"
            budget = self.searches if searching else self.calls
            delay = asked_delay(response) or limit_window(response) or (
                self.searches.rate.seconds if searching else self.calls.rate.seconds)
            budget.refused(delay)
            return
        remaining = response.headers.get("X-HubSpot-RateLimit-Remaining", "")
        if remaining.isdigit():
            self.calls.remaining(int(remaining))

    def close(self) -> None:
        self.store.close()
