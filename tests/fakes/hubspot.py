"""A fake HubSpot CRM API: contacts, notes, associations and properties, as HubSpot documents them.

What it mirrors, and where HubSpot documents it:

- Bearer private-app tokens, 401 INVALID_AUTHENTICATION, and a token rotated before its
  time (`rotate_token()`: the old one is refused at once), 403 MISSING_SCOPES:
  https://developers.hubspot.com/docs/api/private-apps and
  https://developers.hubspot.com/docs/api/error-handling
- Contacts read by id or by a unique property (`idProperty`, a consistent read), created
  with 409 CONFLICT "Contact already exists. Existing ID: n" when a unique property is
  taken, 404 OBJECT_NOT_FOUND, 400 VALIDATION_ERROR for unknown properties and for an
  email that is no email address (INVALID_EMAIL):
  https://developers.hubspot.com/docs/api/crm/contacts and
  https://developers.hubspot.com/docs/api/crm/properties (unique values)
- Search (filters EQ one value, or IN a list of values) that lags writes ("it may take a few moments for newly created or updated
  objects to appear in search results"), `search_lag` seconds here, 3 by default, and
  limited per account to about five requests a second (`searches` per `search_window`;
  four when the limit was raised from one), whose answers carry no rate-limit headers:
  https://developers.hubspot.com/docs/api/crm/search and
  https://developers.hubspot.com/changelog/crm-search-api-rate-limit-increase
- The rolling limit of a private app, 100 calls per 10 s on Free and Starter, 190 on
  Professional and Enterprise (`per_window` calls per `window` seconds, 190 per 10 s by
  default; the drain benchmark scales the window down), and the daily allowance, with the
  X-HubSpot-RateLimit-Max, -Remaining, -Interval-Milliseconds, -Daily and -Daily-Remaining
  headers, and the 429 RATE_LIMIT body naming its policy (TEN_SECONDLY_ROLLING):
  https://developers.hubspot.com/docs/api/usage-details and
  https://developers.hubspot.com/changelog/increasing-our-api-limits and
  https://developers.hubspot.com/changelog/2018-11-06-rate-limit-information-headers-will-be-included-in-http-responses
- `traffic` counts every API call, its 429s, the calls in flight at once and the most
  calls in any window, for tests and the drain benchmark.
- Writes whose answer is lost (`lost.lose()`, `lose_every`): the write is kept, the client
  sees a 504 gateway timeout or a closed connection; HubSpot's error guide lists 502/504
  timeouts as answers to retry, and a retried create must expect the 409 above:
  https://developers.hubspot.com/docs/api/error-handling
- Notes with associations (type 202, note to contact), read in batches:
  https://developers.hubspot.com/docs/api/crm/notes and
  https://developers.hubspot.com/docs/api/crm/associations
- Batch calls of up to 100 inputs: contacts read by id or by a unique property
  (`idProperty`), the inputs no contact matches named in the `errors` of a 207 answer;
  contacts created and updated in batches; notes created in a batch with their associations
  inline. A batch create whose inputs each carry an `objectWriteTraceId` answers 207 with
  the inputs that failed in `errors` and the others made; without trace ids one bad input
  fails the whole batch:
  https://developers.hubspot.com/docs/api-reference/legacy/crm/objects/contacts/batch/read-contacts,
  https://developers.hubspot.com/docs/api-reference/legacy/crm/activities/notes/batch/create-notes,
  https://developers.hubspot.com/docs/api-reference/legacy/crm/objects/objects/batch/create-objects
  and https://developers.hubspot.com/docs/api-reference/error-handling (multi-status errors)
"""

import itertools
import json
import re
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone

from flask import Flask, Response, jsonify, request

from .faults import DEFAULT_SEARCH_LAG_SECONDS, LostAnswers, RollingLimit, SearchIndex, \
    reset_connection
from .server import Served, run_from_command_line
from .traffic import Traffic

TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
TOKEN_PROPERTY = "rocketchat_visitor_token"
CONTACT_PROPERTIES = {"email", "phone", "firstname", "lastname", "company", TOKEN_PROPERTY}
NOTE_PROPERTIES = {"hs_timestamp", "hs_note_body", "hubspot_owner_id", "hs_attachment_ids"}
TEN_SECOND_LIMIT = 190
BATCH_LIMIT = 100
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
SEARCH_PER_SECOND = 5
DAILY_LIMIT = 1_000_000
WRITES = ("POST", "PATCH", "PUT", "DELETE")
READS_BY_POST = ("/search", "/batch/read")


def now_text() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def hubspot_error(status: int, category: str, message: str, **extra):
    body = {"status": "error", "message": message, "correlationId": "00000000-fake",
            "category": category, **extra}
    return jsonify(body), status


def filtered(search_filter: dict, properties: dict) -> bool:
    """Whether a contact passes one search filter: EQ a value, or IN a list of values."""
    held = properties.get(search_filter["propertyName"])
    if search_filter["operator"] == "IN":
        return held in search_filter["values"]
    return search_filter["operator"] == "EQ" and held == search_filter["value"]


def invalid_email(properties: dict):
    """HubSpot's answer to an email property that is no email address, or None."""
    email = properties.get("email")
    if email is None or EMAIL.fullmatch(email):
        return None
    details = [{"isValid": False, "message": f"Email address {email} is invalid",
                "error": "INVALID_EMAIL", "name": "email"}]
    return hubspot_error(400, "VALIDATION_ERROR",
                         f"Property values were not valid: {json.dumps(details)}")


@dataclass
class Reply:
    """A scripted answer given before routing, to stage outages and limits."""

    status: int
    body: dict
    headers: dict = field(default_factory=dict)


def limit_headers(per_window: int, window: float, remaining: int) -> dict:
    """The X-HubSpot-RateLimit-* headers of the rolling limit."""
    return {"X-HubSpot-RateLimit-Interval-Milliseconds": str(int(window * 1000)),
            "X-HubSpot-RateLimit-Max": str(per_window),
            "X-HubSpot-RateLimit-Remaining": str(remaining)}


def rate_limited(daily: bool = False, policy: str | None = None, per_window: int = TEN_SECOND_LIMIT,
                 window: float = 10.0) -> Reply:
    """HubSpot's 429 for the ten-second (or daily, or search's secondly) limit."""
    policy = policy or ("DAILY" if daily else "TEN_SECONDLY_ROLLING")
    headers = {} if policy == "SECONDLY" else {
        **limit_headers(per_window, window, 0),
        **({"X-HubSpot-RateLimit-Daily-Remaining": "0"} if daily else {})}
    return Reply(429, {"status": "error", "errorType": "RATE_LIMIT", "policyName": policy,
                       "message": f"You have reached your {policy.lower()} limit.",
                       "correlationId": "00000000-fake"}, headers)


def gateway_timeout():
    """What a client sees when HubSpot's edge gives up on a request HubSpot still completes."""
    return Response("<html><body><h1>504 Gateway Time-out</h1></body></html>", status=504,
                    content_type="text/html")


class FakeHubSpot(Served):
    """State is plain dicts; `requests` lists (method, path) of every call received."""

    def __init__(self, port: int = 0, *, token: str = TOKEN,
                 unique_properties=("email", TOKEN_PROPERTY), extra_properties=(),
                 search_lag: float = DEFAULT_SEARCH_LAG_SECONDS, lose_every: int = 0,
                 lost_how: str = "504", per_window: int = TEN_SECOND_LIMIT, window: float = 10.0,
                 searches: int = SEARCH_PER_SECOND, search_window: float = 1.0,
                 daily: int = DAILY_LIMIT):
        self.token = token
        self.unique = set(unique_properties)
        self.contact_properties = CONTACT_PROPERTIES | set(extra_properties)
        self.contacts: dict[str, dict] = {}
        self.notes: dict[str, dict] = {}  # id -> {"properties": ..., "contacts": [...]}
        self.search_index = SearchIndex(search_lag)
        self.lost = LostAnswers(every=lose_every, how=lost_how)
        self.limit = RollingLimit(per_window, window)
        self.search_limit = RollingLimit(searches, search_window)
        self.daily = daily
        self.traffic = Traffic()
        self.requests: list[tuple[str, str]] = []
        self.script: deque[Reply] = deque()
        self.scopes_missing = False
        self.ids = itertools.count(1001)
        self.lock = threading.RLock()
        super().__init__(port)

    # Test helpers -------------------------------------------------------------------------

    def answer(self, *replies: Reply) -> None:
        self.script.extend(replies)

    def index(self) -> None:
        """Let search see every contact written so far, whatever the lag."""
        self.search_index.catch_up()

    def rotate_token(self) -> str:
        """Rotate the private app's token now: the old one is refused from the next call."""
        self.token = f"pat-na1-{secrets.token_hex(8)}-rotated"
        return self.token

    def add_contact(self, **properties) -> str:
        with self.lock:
            contact_id = str(next(self.ids))
            self.contacts[contact_id] = dict(properties)
            self.search_index.write(contact_id, properties)
            return contact_id

    def add_note(self, properties: dict, contacts: list[str]) -> str:
        with self.lock:
            note_id = str(next(self.ids))
            self.notes[note_id] = {"properties": dict(properties), "contacts": contacts}
            return note_id

    def notes_of(self, contact_id: str) -> list[dict]:
        return [note["properties"] for note in self.notes.values()
                if contact_id in note["contacts"]]

    def calls(self, method: str, prefix: str) -> int:
        return sum(1 for m, path in self.requests if m == method and path.startswith(prefix))

    def state(self) -> dict:
        return {"contacts": self.contacts, "notes": self.notes}

    # The API ------------------------------------------------------------------------------

    def find(self, name: str, value: str) -> str | None:
        if name in ("hs_object_id", "id"):
            return value if value in self.contacts else None
        value = value.lower() if name == "email" else value
        for contact_id, properties in self.contacts.items():
            held = properties.get(name)
            if held is not None and (held.lower() if name == "email" else held) == value:
                return contact_id
        return None

    def invalid_properties(self, properties: dict, known: set):
        unknown = sorted(set(properties) - known)
        if not unknown:
            return None
        details = [{"isValid": False, "message": f'Property "{name}" does not exist',
                    "error": "PROPERTY_DOESNT_EXIST", "name": name} for name in unknown]
        return hubspot_error(400, "VALIDATION_ERROR",
                             f"Property values were not valid: {json.dumps(details)}")

    def conflict(self, properties: dict, except_id: str | None = None):
        for name in sorted(self.unique & set(properties)):
            existing = self.find(name, properties[name])
            if existing and existing != except_id:
                return hubspot_error(409, "CONFLICT",
                                     f"Contact already exists. Existing ID: {existing}")
        return None

    def refused_contact(self, properties: dict, except_id: str | None = None):
        """The error answer a contact write would get, or None."""
        return self.invalid_properties(properties, self.contact_properties) or \
            invalid_email(properties) or self.conflict(properties, except_id=except_id)

    def refused_note(self, body: dict):
        """The error answer a note create would get, or None; else its associated contacts."""
        properties = body.get("properties") or {}
        refused = self.invalid_properties(properties, NOTE_PROPERTIES)
        if refused:
            return refused, None
        if "hs_timestamp" not in properties:
            return hubspot_error(400, "VALIDATION_ERROR",
                                 "Property values were not valid: hs_timestamp is required"), None
        contacts = []
        for association in body.get("associations") or []:
            target = str(association["to"]["id"])
            types = association["types"]
            if target not in self.contacts or types[0]["associationTypeId"] != 202:
                return hubspot_error(400, "VALIDATION_ERROR",
                                     f"invalid association to {target}"), None
            contacts.append(target)
        return None, contacts

    def batch(self, inputs: list, write):
        """A batch create or update: `write(input)` answers an error or (record, status).

        With a trace id on every input, failures are the `errors` of a 207 answer and the
        other inputs are written; without, the first failure is the whole batch's answer and
        nothing is written (each input is checked before any is written).
        """
        if len(inputs) > BATCH_LIMIT:
            return hubspot_error(400, "VALIDATION_ERROR",
                                 f"Too many inputs: at most {BATCH_LIMIT} per batch")
        traced = all(item.get("objectWriteTraceId") for item in inputs)
        results, errors = [], []
        with self.lock:
            if not traced:
                for item in inputs:
                    refused = write(item, check_only=True)
                    if refused is not None:
                        return refused
            for item in inputs:
                answer = write(item, check_only=False)
                if isinstance(answer, dict):
                    if traced:
                        answer["objectWriteTraceId"] = item["objectWriteTraceId"]
                    results.append(answer)
                    continue
                body, status = answer[0].get_json(), answer[1]
                errors.append({"status": "error", "category": body.get("category"),
                               "message": body.get("message"),
                               "context": {"objectWriteTraceId": [item["objectWriteTraceId"]]},
                               "httpStatus": status})
        body = {"status": "COMPLETE", "results": results, "startedAt": now_text(),
                "completedAt": now_text()}
        if errors:
            body.update(errors=errors, numErrors=len(errors))
            return jsonify(body), 207
        return jsonify(body), 201

    def build_app(self):
        app = Flask("fake-hubspot")

        @app.before_request
        def gate():
            self.requests.append((request.method, request.path))
            if not request.path.startswith("/crm/"):
                return None
            self.traffic.begin()
            if request.headers.get("Authorization") != f"Bearer {self.token}":
                return hubspot_error(
                    401, "INVALID_AUTHENTICATION",
                    "Authentication credentials not found. This API supports OAuth 2.0 "
                    "authentication and you can find more details at "
                    "https://developers.hubspot.com/docs/methods/auth/oauth-overview")
            if self.scopes_missing:
                return hubspot_error(
                    403, "MISSING_SCOPES", "This app hasn't been granted all required scopes "
                    "to make this call.", errors=[{"message": "One or more of the following "
                                                   "scopes are required.", "context": {
                                                       "requiredGranularScopes": [
                                                           "crm.objects.contacts.write"]}}])
            if self.script:
                reply = self.script.popleft()
                return jsonify(reply.body), reply.status, reply.headers
            if not self.limit.allow():
                reply = rate_limited(per_window=self.limit.limit, window=self.limit.window)
                return jsonify(reply.body), reply.status, reply.headers
            if request.path.endswith("/search") and not self.search_limit.allow():
                reply = rate_limited(policy="SECONDLY")
                return jsonify(reply.body), reply.status, reply.headers
            return None

        @app.after_request
        def limits_and_lost_answers(response):
            if request.path.startswith("/crm/"):
                self.traffic.end(response.status_code)
            if not request.path.endswith("/search"):  # search answers carry no limit headers
                headers = limit_headers(self.limit.limit, self.limit.window,
                                        self.limit.remaining())
                for name, value in headers.items():
                    response.headers.setdefault(name, value)
                response.headers.setdefault("X-HubSpot-RateLimit-Daily", str(self.daily))
                response.headers.setdefault("X-HubSpot-RateLimit-Daily-Remaining",
                                            str(max(0, self.daily - self.traffic.calls)))
            if request.method in WRITES and response.status_code < 300 and \
                    not request.path.endswith(READS_BY_POST):
                how = self.lost.next_write()
                if how == "reset":
                    reset_connection(request.environ)
                elif how:
                    return gateway_timeout()
            return response

        @app.get("/_fake/state")
        def state():
            return jsonify(self.state())

        @app.post("/crm/v3/objects/contacts/batch/read")
        def batch_read_contacts():
            body = request.get_json()
            inputs = body.get("inputs") or []
            if len(inputs) > BATCH_LIMIT:
                return hubspot_error(400, "VALIDATION_ERROR",
                                     f"Too many inputs: at most {BATCH_LIMIT} per batch")
            id_property = body.get("idProperty") or "hs_object_id"
            wanted = body.get("properties") or []
            results, missing = [], []
            with self.lock:
                for item in inputs:
                    contact_id = self.find(id_property, str(item["id"]))
                    if contact_id is None:
                        missing.append(str(item["id"]))
                        continue
                    held = self.contacts[contact_id]
                    results.append(self.record(contact_id, {
                        name: held.get(name) for name in [*wanted, id_property]
                        if name in held}))
            answer = {"status": "COMPLETE", "results": results, "startedAt": now_text(),
                      "completedAt": now_text()}
            if not missing:
                return jsonify(answer)
            answer.update(numErrors=1, errors=[{
                "status": "error", "category": "OBJECT_NOT_FOUND",
                "message": "Could not get some CONTACT objects, they may be deleted or not exist.",
                "context": {"ids": missing}}])
            return jsonify(answer), 207

        @app.post("/crm/v3/objects/contacts/batch/create")
        def batch_create_contacts():
            def write(item, check_only):
                properties = item.get("properties") or {}
                refused = self.refused_contact(properties)
                if refused or check_only:
                    return refused
                return self.record(self.add_contact(**properties), properties)
            return self.batch(request.get_json().get("inputs") or [], write)

        @app.post("/crm/v3/objects/contacts/batch/update")
        def batch_update_contacts():
            def write(item, check_only):
                contact_id, properties = str(item["id"]), item.get("properties") or {}
                if contact_id not in self.contacts:
                    return hubspot_error(404, "OBJECT_NOT_FOUND", "Object not found.")
                refused = self.refused_contact(properties, except_id=contact_id)
                if refused or check_only:
                    return refused
                self.contacts[contact_id].update(properties)
                self.search_index.write(contact_id, self.contacts[contact_id])
                return self.record(contact_id, self.contacts[contact_id])
            return self.batch(request.get_json().get("inputs") or [], write)

        @app.post("/crm/v3/objects/notes/batch/create")
        def batch_create_notes():
            def write(item, check_only):
                refused, contacts = self.refused_note(item)
                if refused or check_only:
                    return refused
                return self.record(self.add_note(item["properties"], contacts),
                                   item["properties"])
            return self.batch(request.get_json().get("inputs") or [], write)

        @app.get("/crm/v3/objects/contacts/<path:key>")
        def read_contact(key):
            with self.lock:
                contact_id = self.find(request.args.get("idProperty", "hs_object_id"), key)
                if contact_id is None:
                    return hubspot_error(404, "OBJECT_NOT_FOUND",
                                         "Object not found.  objectId are usually numeric.")
                return jsonify(self.record(contact_id, self.contacts[contact_id]))

        @app.post("/crm/v3/objects/contacts")
        def create_contact():
            properties = request.get_json()["properties"]
            with self.lock:
                refused = self.refused_contact(properties)
                if refused:
                    return refused
                contact_id = self.add_contact(**properties)
                return jsonify(self.record(contact_id, properties)), 201

        @app.patch("/crm/v3/objects/contacts/<contact_id>")
        def update_contact(contact_id):
            properties = request.get_json()["properties"]
            with self.lock:
                if contact_id not in self.contacts:
                    return hubspot_error(404, "OBJECT_NOT_FOUND", "Object not found.")
                refused = self.refused_contact(properties, except_id=contact_id)
                if refused:
                    return refused
                self.contacts[contact_id].update(properties)
                self.search_index.write(contact_id, self.contacts[contact_id])
                return jsonify(self.record(contact_id, self.contacts[contact_id]))

        @app.post("/crm/v3/objects/contacts/search")
        def search_contacts():
            query = request.get_json()
            found = []
            with self.lock:
                indexed = self.search_index.visible()
                for group in query.get("filterGroups") or []:
                    for contact_id in sorted(indexed, key=int):
                        properties = indexed[contact_id]
                        if contact_id in self.contacts and contact_id not in found and all(
                                filtered(f, properties) for f in group["filters"]):
                            found.append(contact_id)
                limit = int(query.get("limit") or 10)
                results = [self.record(i, indexed[i]) for i in found[:limit]]
            answer = {"total": len(found), "results": results}
            if len(found) > limit:
                answer["paging"] = {"next": {"after": str(limit)}}
            return jsonify(answer)

        @app.post("/crm/v3/objects/notes")
        def create_note():
            body = request.get_json()
            with self.lock:
                refused, contacts = self.refused_note(body)
                if refused:
                    return refused
                note_id = self.add_note(body["properties"], contacts)
                return jsonify(self.record(note_id, body["properties"])), 201

        @app.patch("/crm/v3/objects/notes/<note_id>")
        def update_note(note_id):
            with self.lock:
                if note_id not in self.notes:
                    return hubspot_error(404, "OBJECT_NOT_FOUND", "Object not found.")
                self.notes[note_id]["properties"].update(request.get_json()["properties"])
                return jsonify(self.record(note_id, self.notes[note_id]["properties"]))

        @app.post("/crm/v3/objects/notes/batch/read")
        def read_notes():
            body = request.get_json()
            wanted = body.get("properties") or []
            with self.lock:
                results = [self.record(item["id"], {name: self.notes[item["id"]]["properties"].get(name)
                                                    for name in wanted})
                           for item in body["inputs"] if item["id"] in self.notes]
            return jsonify({"status": "COMPLETE", "results": results,
                            "startedAt": now_text(), "completedAt": now_text()})

        @app.get("/crm/v4/objects/contacts/<contact_id>/associations/notes")
        def contact_notes(contact_id):
            limit, after = int(request.args.get("limit", 500)), int(request.args.get("after", 0))
            with self.lock:
                ids = [i for i, note in self.notes.items() if contact_id in note["contacts"]]
            page = ids[after:after + limit]
            body = {"results": [{"toObjectId": int(i), "associationTypes": [
                {"category": "HUBSPOT_DEFINED", "typeId": 201, "label": None}]} for i in page]}
            if after + limit < len(ids):
                body["paging"] = {"next": {"after": str(after + limit)}}
            return jsonify(body)

        @app.get("/crm/v3/properties/contacts/<name>")
        def contact_property(name):
            if name not in self.contact_properties:
                return hubspot_error(404, "OBJECT_NOT_FOUND",
                                     f"Unable to find property {name} for object type 0-1")
            return jsonify({"name": name, "label": name, "type": "string", "fieldType": "text",
                            "groupName": "contactinformation", "hasUniqueValue": name in self.unique})

        return app

    @staticmethod
    def record(record_id: str, properties: dict) -> dict:
        return {"id": record_id, "properties": properties, "createdAt": now_text(),
                "updatedAt": now_text(), "archived": False}


if __name__ == "__main__":
    run_from_command_line(FakeHubSpot, f"fake HubSpot API (token {TOKEN})")
