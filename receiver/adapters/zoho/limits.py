"""Zoho CRM's limits as the shared rate budget sees them: the organisation's API credits.

Zoho counts API credits per organisation in a rolling 24 hours (by edition and licences)
and caps the calls in flight at once; its answers carry X-RATELIMIT-LIMIT, -REMAINING and
-RESET. https://www.zoho.com/crm/developer/docs/api/v8/api-limits.html
"""

from ..api import asked_delay
from ..own_engine import OwnEngine
from ..ratelimit import Budget, BudgetStore, Limits, account_key

THROTTLED_SECONDS = 1.0  # a call past the concurrency cap may go again as soon as one ends


class ZohoLimits(Limits):
    """Every CRM call (not the accounts server's token calls) takes one credit."""

    def __init__(self, own: OwnEngine, config):
        self.store = BudgetStore(own)
        self.credits = Budget(self.store, account_key("zoho", config.client_id,
                                                      config.refresh_token), config.rate_limit)

    def budgets(self, method: str, url: str) -> list[Budget]:
        return [self.credits] if "/crm/" in url else []

    def observe(self, method: str, url: str, response) -> None:
        if "/crm/" in url:
            self.credits.heed(response, "X-RATELIMIT-REMAINING",
                              asked_delay(response) or THROTTLED_SECONDS)

    def close(self) -> None:
        self.store.close()
