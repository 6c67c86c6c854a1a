"""The `send-test` command: prove a deployment by acting as Rocket.Chat against it."""

import json
import os
import time

import click
import requests

from .. import sender
from ..samples import sample_bodies


def _bodies(files, sample, conversations) -> list[tuple[str, dict]]:
    bodies = [(path, json.loads(open(path, encoding="utf-8").read())) for path in files]
    for number in range(conversations):
        bodies += [(f"conversation {number + 1}: {body['type']}", body)
                   for body in sender.conversation()]
    if sample or not bodies:
        bodies.insert(0, ("Send Test sample", sample_bodies()["webhook-test-sample"]))
    return bodies


def _count(bodies: int) -> str:
    return "1 body" if bodies == 1 else f"{bodies} bodies"


def _answer(attempt) -> str:
    if attempt.status is None:
        return f"no answer ({attempt.body})"
    return f"{attempt.status} in {attempt.millis:.0f} ms"


def _report(label: str, attempts, policy) -> bool:
    last = attempts[-1]
    ok = last.status is not None and policy.succeeded(last.status)
    answers = ", ".join(_answer(attempt) for attempt in attempts)
    click.echo(f"{'ok  ' if ok else 'FAIL'} {label}: {answers}"
               + (f"  {last.body}" if last.status is not None else ""))
    return ok


@click.command("send-test")
@click.argument("url")
@click.option("--token", default=lambda: (os.environ.get("ROCKETCHAT_LIVECHAT_TOKEN") or "")
              .split(",")[0], show_default="first of $ROCKETCHAT_LIVECHAT_TOKEN",
              help="the Secret Token Rocket.Chat would send")
@click.option("--file", "files", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="a payload file to post (repeatable)")
@click.option("--sample", is_flag=True, help="post the Send Test sample (the default)")
@click.option("--conversation", "conversations", type=int, default=0,
              help="post this many synthesized chats: start, messages, take, forward, close")
@click.option("--version", "version", type=click.Choice(sorted(sender.POLICIES)),
              default="current", show_default=True, help="whose retry policy to follow")
@click.option("--timeout", type=float, default=5.0, show_default=True,
              help="Livechat_http_timeout, in seconds")
@click.option("--retry-delay", type=float, default=None,
              help="seconds between retries (Rocket.Chat: 4 x timeout)")
def send_test(url, token, files, sample, conversations, version, timeout, retry_delay):
    """Post webhook bodies to URL exactly as Rocket.Chat would, and report each answer."""
    if not token:
        raise click.UsageError("no token to send: pass --token with the Secret Token configured "
                               "in Rocket.Chat, or set ROCKETCHAT_LIVECHAT_TOKEN")
    policy = sender.POLICIES[version]
    delay = 4 * timeout if retry_delay is None else retry_delay
    bodies = _bodies(files, sample, conversations)
    click.echo(f"acting as Rocket.Chat {policy.name}: up to {policy.attempts} attempts, "
               f"{delay:g} s apart, {_count(len(bodies))} to {url}")
    session, failures, started = requests.Session(), 0, time.monotonic()
    # Each body gets its own line as its answer comes, which is the progress shown: a
    # progress bar on the same terminal would be written into those lines.
    for sent, (label, body) in enumerate(bodies, start=1):
        attempts = sender.deliver(session, url, token, body, policy, timeout, delay)
        failures += not _report(label, attempts, policy)
        if attempts[-1].unreachable:
            failures += len(bodies) - sent  # the rest would fail alike: not sent
            break
    click.echo(f"{len(bodies) - failures} of {len(bodies)} accepted in "
               f"{time.monotonic() - started:.1f} s")
    if failures:
        raise click.exceptions.Exit(1)
