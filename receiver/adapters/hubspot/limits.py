"""HubSpot's limits as the shared rate budget sees them: one bucket per private app, one for search.

A private app may make 100 calls per rolling 10 s on Free and Starter (190 on Professional
and Enterprise), and the CRM search endpoints about four a second on top; search answers
carry no X-HubSpot-RateLimit-* headers, the others say how many calls the window has left.
https://developers.hubspot.com/docs/api/usage-details
"""

from ..api import asked_delay, json_of
from ..own_engine import OwnEngine
from ..ratelimit import Budget, BudgetStore, Limits, account_key
from .client import limit_window


class HubSpotLimits(Limits):
    """Every call takes from the app's bucket; a search takes from the search bucket too."""

    def __init__(self, own: OwnEngine, config):
        self.store = BudgetStore(own)
        key = account_key("hubspot", config.token)
        self.calls = Budget(self.store, key, config.rate_limit)
        self.searches = Budget(self.store, f"{key}:search", config.search_rate_limit)

    def budgets(self, method: str, url: str) -> list[Budget]:
        return [self.calls, self.searches] if url.endswith("/search") else [self.calls]

    def observe(self, method: str, url: str, response) -> None:
        budget, delay = self.calls, 0.0
        if response.status_code == 429:
            if json_of(response).get("policyName") == "SECONDLY":
                budget = self.searches
            delay = asked_delay(response) or limit_window(response) or budget.rate.seconds
        budget.heed(response, "X-HubSpot-RateLimit-Remaining", delay)

    def close(self) -> None:
        self.store.close()
