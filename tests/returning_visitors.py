"""Returning visitors who give their identifiers in different orders, for the CRM adapters' tests."""

from .builders import sample_with as event

ORDERS = {  # what each visitor gives, event by event, in three conversations
    "phone, then email": [{"phones": ["+5511900000001"]}, {"emails": ["a@example.com"]}],
    "email, then phone": [{"emails": ["b@example.com"]}, {"phones": ["+5511900000002"]}],
    "token only, then phone and email": [{}, {"phones": ["+5511900000003"],
                                              "emails": ["c@example.com"]}],
}


def visits(order: str, n: int) -> list[dict]:
    """Two conversations of one visitor; the second a return visit with everything known."""
    token, steps = f"token-{n}", ORDERS[order]
    known = {"emails": [], "phones": []}
    events = []
    for room, kinds in ((f"room-{n}-a", ("e-livechat-session-start", "e-message-visitor",
                                         "e-livechat-session-close")),
                        (f"room-{n}-b", ("e-livechat-session-start", "e-livechat-session-close"))):
        for step, kind in enumerate(kinds):
            if step < len(steps):
                for name, values in steps[step].items():
                    known[name] = known[name] + values
            chosen = event(kind, token=token, name=f"Visitor {n}", **known)
            chosen["conversation"]["id"] = room
            events.append(chosen)
    return events
