"""Zoho's OAuth refresh-token flow: one access token, kept until shortly before it expires."""

from datetime import datetime, timedelta, timezone

from ..api import ApiSession, Permanent, Transient, json_of
from .settings import ZohoSettings

RENEW_EARLY = timedelta(seconds=60)
# Zoho's 429s and token refusals carry no Retry-After; its limits lift within a minute or so.
THROTTLED_DELAY = 60.0


class AccessTokens:
    """Holds the current access token and the API domain Zoho issued it for."""

    def __init__(self, api: ApiSession, settings: ZohoSettings):
        self.api = api
        self.settings = settings
        self.token: str | None = None
        self.api_domain: str | None = None
        self.expires_at = datetime.min.replace(tzinfo=timezone.utc)

    def current(self) -> str:
        """A token valid for at least another minute, refreshed if need be."""
        if self.token is None or datetime.now(timezone.utc) >= self.expires_at:
            self.refresh()
        return self.token

    def invalidate(self) -> None:
        """Forget the token: Zoho rejected it before its time (revoked, or too many issued)."""
        self.token = None

    def refresh(self) -> None:
        settings = self.settings
        response = self.api.request("POST", f"{settings.accounts_url}/oauth/v2/token", data={
            "grant_type": "refresh_token", "refresh_token": settings.refresh_token,
            "client_id": settings.client_id, "client_secret": settings.client_secret,
        })
        body = json_of(response)
        if response.status_code == 429 or response.status_code >= 500:
            raise Transient(f"Zoho accounts HTTP {response.status_code}: cannot renew the "
                            "access token now", THROTTLED_DELAY)
        error = body.get("error")
        if error == "invalid_client":
            raise Permanent("Zoho accounts refused the OAuth client (invalid_client): check "
                            "RECEIVER_ZOHO_CLIENT_ID, RECEIVER_ZOHO_CLIENT_SECRET and "
                            "RECEIVER_ZOHO_DATA_CENTER")
        if error in ("invalid_code", "invalid_grant"):
            raise Permanent(f"Zoho accounts refused RECEIVER_ZOHO_REFRESH_TOKEN ({error}): it "
                            "was revoked or belongs to another data center; generate a new one")
        if error or "access_token" not in body:
            # "Access Denied": too many token requests in a short time; Zoho lifts it shortly.
            detail = body.get("error_description") or error or response.text[:200]
            raise Transient(f"Zoho accounts HTTP {response.status_code}: {detail}",
                            THROTTLED_DELAY)
        self.token = body["access_token"]
        self.api_domain = (body.get("api_domain") or "").rstrip("/") or None
        lifetime = timedelta(seconds=float(body.get("expires_in") or 3600))
        self.expires_at = datetime.now(timezone.utc) + lifetime - RENEW_EARLY
