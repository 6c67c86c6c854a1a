"""Checks the shared secret Rocket.Chat sends in `X-RocketChat-Livechat-Token`."""

import hmac

TOKEN_HEADER = "X-RocketChat-Livechat-Token"


class TokenMismatch(Exception):
    """The request's token is missing or matches none of the configured tokens."""


def check_token(presented: str | None, accepted: tuple[str, ...]) -> None:
    """Raise TokenMismatch unless `presented` equals one of `accepted`, in constant time."""
    if not presented:
        raise TokenMismatch(f"the {TOKEN_HEADER} header is missing")
    candidate = presented.encode("utf-8", "surrogateescape")
    # Compare against every token, without stopping early, so timing reveals neither
    # which token matched nor how many are configured.
    matched = False
    for token in accepted:
        matched |= hmac.compare_digest(candidate, token.encode("utf-8"))
    if not matched:
        raise TokenMismatch(f"the {TOKEN_HEADER} header does not match the configured token")
