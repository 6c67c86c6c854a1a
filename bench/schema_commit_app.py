"""The floor plus the receiver's schema check: bare+commit that also validates each body.

No receiver that validates every body with `receiver/schemas` before it answers can beat
this app, whatever its store, logging or framework cost: it pays only the token check,
the JSON parse, the marshmallow load the receiver cannot skip, and one flushed INSERT.
bench/ingest.py runs it beside the others, so the receiver's ratio to bare+commit can be
read against the best ratio any validating receiver could reach on this machine. Every
body the benchmark sends is valid, so a refusal would be a 500 and show as non-2xx.
"""

from bench.bare_commit_app import make_app
from receiver.schemas import parse_event

app = make_app(check=parse_event)
