"""A fake Zoho accounts server and CRM API (v8): tokens, records, search and notes, as documented.

What it mirrors, and where Zoho documents it:

- The refresh-token grant at /oauth/v2/token: HTTP 200 with `{"error": "invalid_code"}`
  or `"invalid_client"` on bad credentials; access tokens with `expires_in` 3600 and
  `api_domain`; at most ten new access tokens per refresh token in ten minutes (the
  eleventh is refused with "Access Denied" for the rest of the ten minutes), and at most
  30 live ones (a 31st deletes the oldest, revoking it early):
  https://www.zoho.com/accounts/protocol/oauth/web-apps/access-token-expiry.html and
  https://www.zoho.com/crm/developer/docs/api/v8/refresh.html
- `Authorization: Zoho-oauthtoken`, 401 INVALID_TOKEN for an expired, unknown or revoked
  token (`revoke_tokens()`), 429 TOO_MANY_REQUESTS (`throttled()`):
  https://www.zoho.com/crm/developer/docs/api/v8/status-codes.html and
  https://www.zoho.com/crm/developer/docs/api/v8/api-limits.html
- Insert answering DUPLICATE_DATA with the `duplicate_record` for a unique field,
  MANDATORY_NOT_FOUND and INVALID_DATA record errors; upsert with
  `duplicate_check_fields`; a record read by id:
  https://www.zoho.com/crm/developer/docs/api/v8/insert-records.html,
  https://www.zoho.com/crm/developer/docs/api/v8/upsert-records.html and
  https://www.zoho.com/crm/developer/docs/api/v8/get-records.html
- Writes of up to 100 records in one call (insert, update by id, upsert, Notes added to their parents with
  `Parent_Id` and its module), each record answered in order with its own `status` and
  `code`, and 207 MULTI_STATUS when some fail and others succeed:
  https://www.zoho.com/crm/developer/docs/api/v8/insert-records.html,
  https://www.zoho.com/crm/developer/docs/api/v8/update-records.html,
  https://www.zoho.com/crm/developer/docs/api/v8/upsert-records.html,
  https://www.zoho.com/crm/developer/docs/api/v8/create-notes.html and
  https://www.zoho.com/crm/developer/docs/api/v8/status-codes.html
- Search by email, phone or criteria, answering 204 with no body when nothing is found;
  search runs on an index that sees a write `search_lag` seconds after it (3 by
  default), as Zoho's own clients observe:
  https://www.zoho.com/crm/developer/docs/api/v8/search-records.html
- The organisation's limits: at most `concurrency` calls in flight at once (by edition:
  Free 5, Standard 10, Professional 15, Enterprise 20, Ultimate 25; 10 here by default),
  the call past it answered 429 TOO_MANY_REQUESTS; and `credits` API credits in a rolling
  24 hours (one per call here), past which every call is a 429 too. Answers carry
  X-RATELIMIT-LIMIT, X-RATELIMIT-REMAINING and X-RATELIMIT-RESET (the credits' window):
  https://www.zoho.com/crm/developer/docs/api/v8/api-limits.html and
  https://www.zoho.com/crm/developer/docs/api/v2/api-limits.html
- `traffic` counts every CRM call, its 429s and the most calls in flight at once, for
  tests and the drain benchmark.
- Writes whose answer is lost (`lost.lose()`, `lose_every`): the write is kept, the client
  sees a 504 or a closed connection; Zoho lists 5xx answers among those to retry:
  https://www.zoho.com/crm/developer/docs/api/v8/status-codes.html
"""

import itertools
import secrets
import threading
from collections import deque
from datetime import datetime, timedelta, timezone

from flask import Flask, Response, jsonify, request

from .faults import DEFAULT_SEARCH_LAG_SECONDS, LostAnswers, RollingLimit, SearchIndex, \
    reset_connection
from .server import Served, run_from_command_line
from .traffic import Traffic

CLIENT_ID = "1000.FAKECLIENTID"
CLIENT_SECRET = "fake-client-secret"
REFRESH_TOKEN = "1000.fake-refresh-token"
TOKEN_LIFETIME = timedelta(hours=1)
FIELDS = {"First_Name", "Last_Name", "Email", "Phone", "Lead_Source", "Description", "Company"}
MANDATORY = {"Contacts": ["Last_Name"], "Leads": ["Last_Name", "Company"]}
SYSTEM_CHECKED = {"Email"}  # upsert may check Email for duplicates even where it is not unique
BATCH_LIMIT = 100
TOKENS_PER_TEN_MINUTES = 10
LIVE_TOKENS = 30
CONCURRENCY = 10  # the Standard edition's cap
CREDITS_PER_DAY = 50_000  # a Standard organisation's base allowance
DAY_SECONDS = 86_400.0
ACCESS_DENIED = {"error_description": "You have made too many requests continuously. Please "
                 "try again after some time.", "error": "Access Denied", "status": "failure"}


def throttled(limit: int = 100) -> tuple[int, dict, dict]:
    """Zoho CRM's 429, for `answer()`."""
    return (429, {"code": "TOO_MANY_REQUESTS", "details": {},
                  "message": "The number of requests exceeded the allowed limit",
                  "status": "error"},
            {"X-RATELIMIT-LIMIT": str(limit), "X-RATELIMIT-REMAINING": "0",
             "X-RATELIMIT-RESET": "60000"})


def now_text() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def zoho_error(status: int, code: str, message: str, details=None):
    return jsonify({"code": code, "details": details or {}, "message": message,
                    "status": "error"}), status


def result_of(code: str, message: str, details: dict, **extra) -> dict:
    """One record's entry in a write's `data` answer."""
    return {"code": code, "details": details, "message": message,
            "status": "success" if code == "SUCCESS" else "error", **extra}


def record_result(status: int, code: str, message: str, details: dict, **extra):
    return jsonify({"data": [result_of(code, message, details, **extra)]}), status


def many(records: list, write):
    """A write of up to 100 records, `write(record, n)` answering (status, result) for each:
    one status when all agree, else 207 MULTI_STATUS, each record's result in order."""
    if len(records) > BATCH_LIMIT:
        return zoho_error(400, "LIMIT_EXCEEDED", f"at most {BATCH_LIMIT} records per call",
                          {"limit": BATCH_LIMIT})
    answers = [write(record, n) for n, record in enumerate(records)]
    statuses = {status for status, _ in answers}
    status = statuses.pop() if len(statuses) == 1 else 207
    return jsonify({"data": [result for _, result in answers]}), status


def missing_mandatory(module: str, record: dict, n: int = 0):
    """(400, the MANDATORY_NOT_FOUND result) for a new record that lacks a required field,
    or None."""
    missing = [name for name in MANDATORY[module] if not record.get(name)]
    if not missing:
        return None
    return 400, result_of("MANDATORY_NOT_FOUND", "required field not found",
                          {"api_name": missing[0], "json_path": f"$.data[{n}].{missing[0]}"})


def searched(args) -> dict:
    """The field and value a search asks for: `email=`, `phone=` or `criteria=(F:equals:v)`."""
    if args.get("email"):
        return {"Email": args["email"]}
    if args.get("phone"):
        return {"Phone": args["phone"]}
    criteria = (args.get("criteria") or "").strip("()")
    name, operator, value = (criteria.split(":", 2) + ["", ""])[:3]
    return {name: value} if operator == "equals" and name else {}


class FakeZoho(Served):
    """One server plays both hosts: accounts (/oauth/v2/token) and the CRM API (/crm/v8)."""

    def __init__(self, port: int = 0, *, unique_fields=("Email",), extra_fields=(),
                 search_lag: float = DEFAULT_SEARCH_LAG_SECONDS, lose_every: int = 0,
                 lost_how: str = "504", concurrency: int = CONCURRENCY,
                 credits: int = CREDITS_PER_DAY, credit_window: float = DAY_SECONDS):
        self.concurrency = concurrency
        self.credits = RollingLimit(credits, credit_window)
        self.traffic = Traffic()
        self.unique = set(unique_fields)
        self.fields = FIELDS | set(unique_fields) | set(extra_fields)
        self.records: dict[str, dict[str, dict]] = {"Contacts": {}, "Leads": {}}
        self.notes: dict[str, dict] = {}
        self.tokens: dict[str, datetime] = {}  # live access tokens, oldest first
        self.token_grants = 0
        self.grant_limit = RollingLimit(TOKENS_PER_TEN_MINUTES, 600.0)
        self.search_index = SearchIndex(search_lag)
        self.lost = LostAnswers(every=lose_every, how=lost_how)
        self.requests: list[tuple[str, str]] = []
        self.script: deque[tuple[int, dict, dict]] = deque()
        self.ids = itertools.count(5_725_767_000_000_001)
        self.lock = threading.RLock()
        super().__init__(port)

    # Test helpers -------------------------------------------------------------------------

    def answer(self, status: int, body: dict, headers: dict | None = None) -> None:
        """Answer the next CRM API call (not a token request) with this, before routing."""
        self.script.append((status, body, headers or {}))

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def add_record(self, module: str, **fields) -> str:
        with self.lock:
            record_id = str(next(self.ids))
            self.records[module][record_id] = dict(fields)
            self.search_index.write(f"{module}/{record_id}", fields)
            return record_id

    def index(self) -> None:
        """Let search see every record written so far, whatever the lag."""
        self.search_index.catch_up()

    def notes_of(self, module: str, record_id: str) -> list[dict]:
        return [n for n in self.notes.values() if n["parent"] == (module, record_id)]

    def state(self) -> dict:
        return {"records": self.records, "notes": self.notes}

    # The API ------------------------------------------------------------------------------

    def match(self, module: str, record: dict, check_fields: list[str]):
        for name in check_fields:
            value = record.get(name)
            if not value:
                continue
            for record_id, held in self.records[module].items():
                if str(held.get(name, "")).lower() == str(value).lower():
                    return record_id, name
        return None, None

    def refused_fields(self, record: dict, n: int = 0):
        """(400, the INVALID_DATA result) for a record naming an unknown field, or None."""
        unknown = sorted(set(record) - self.fields - {"id"})
        if unknown:
            return 400, result_of("INVALID_DATA", "invalid data", {
                "api_name": unknown[0], "json_path": f"$.data[{n}].{unknown[0]}"})
        return None

    def inserted(self, module: str, record: dict, n: int):
        """(status, result) of inserting one record of a multi-record insert."""
        refused = self.refused_fields(record, n)
        if refused:
            return refused
        record_id, matched = self.match(module, record, sorted(self.unique))
        if record_id:
            return 400, result_of("DUPLICATE_DATA", "duplicate data", {
                "api_name": matched, "json_path": f"$.data[{n}].{matched}",
                "more_records": False, "duplicate_record": {
                    "module": {"api_name": module, "id": "1"}, "id": record_id}})
        refused = missing_mandatory(module, record, n)
        if refused:
            return refused
        record_id = self.add_record(module, **record)
        return 201, result_of("SUCCESS", "record added",
                              {"id": record_id, "Created_Time": now_text()})

    def upserted(self, module: str, record: dict, checks: list[str], n: int):
        """(status, result) of upserting one record: updated where a check field matches."""
        refused = self.refused_fields(record, n)
        if refused:
            return refused
        record_id, matched = self.match(module, record, checks)
        stamp = {"Modified_Time": now_text(), "Modified_By": {"name": "API", "id": "1"}}
        if record_id:
            self.records[module][record_id].update(record)
            self.search_index.write(f"{module}/{record_id}", self.records[module][record_id])
            return 200, result_of("SUCCESS", "record updated", {"id": record_id, **stamp},
                                  action="update", duplicate_field=matched)
        refused = missing_mandatory(module, record, n)
        if refused:
            return refused
        record_id = self.add_record(module, **record)
        return 201, result_of("SUCCESS", "record added",
                              {"id": record_id, "Created_Time": now_text(), **stamp},
                              action="insert", duplicate_field=None)

    def note_added(self, note: dict, module: str | None, record_id: str | None):
        """(status, result) of adding one note to a record."""
        if record_id not in self.records.get(module, {}):
            return 400, result_of("INVALID_DATA", "the related id given seems to be invalid",
                                  {"api_name": "Parent_Id"})
        note_id = str(next(self.ids))
        fields = {name: note.get(name) for name in ("Note_Title", "Note_Content")}
        self.notes[note_id] = {"parent": (module, record_id), **fields}
        return 201, result_of("SUCCESS", "record added",
                              {"id": note_id, "Created_Time": now_text()})

    def build_app(self):
        app = Flask("fake-zoho")

        @app.before_request
        def gate():
            self.requests.append((request.method, request.path))
            if not request.path.startswith("/crm/"):
                return None
            header = request.headers.get("Authorization", "")
            token = header.removeprefix("Zoho-oauthtoken ")
            expires = self.tokens.get(token) if header.startswith("Zoho-oauthtoken ") else None
            in_flight = self.traffic.begin()
            if expires is None or datetime.now(timezone.utc) >= expires:
                return zoho_error(401, "INVALID_TOKEN", "invalid oauth token")
            if self.script:
                status, body, headers = self.script.popleft()
                return jsonify(body), status, headers
            if in_flight > self.concurrency or not self.credits.allow():
                status, body, headers = throttled(self.credits.limit)
                return jsonify(body), status, headers
            return None

        @app.after_request
        def lost_answers(response):
            if request.path.startswith("/crm/"):
                self.traffic.end(response.status_code)
                response.headers.setdefault("X-RATELIMIT-LIMIT", str(self.credits.limit))
                response.headers.setdefault("X-RATELIMIT-REMAINING",
                                            str(self.credits.remaining()))
                response.headers.setdefault("X-RATELIMIT-RESET",
                                            str(int(self.credits.window * 1000)))
            if request.path.startswith("/crm/") and request.method in ("POST", "PUT") and \
                    response.status_code < 300:
                how = self.lost.next_write()
                if how == "reset":
                    reset_connection(request.environ)
                elif how:
                    return Response("<html><body>504 Gateway Timeout</body></html>", status=504,
                                    content_type="text/html")
            return response

        @app.get("/_fake/state")
        def state():
            return jsonify(self.state())

        @app.post("/crm/v8/<module>")
        def insert(module):
            if module not in self.records:
                return zoho_error(400, "INVALID_MODULE", "the module name given seems to be invalid")
            with self.lock:
                return many(request.get_json()["data"],
                            lambda record, n: self.inserted(module, record, n))

        @app.get("/crm/v8/<module>/<record_id>")
        def read(module, record_id):
            with self.lock:
                record = self.records.get(module, {}).get(record_id)
                if record is None:
                    return Response(status=204)
                return jsonify({"data": [{"id": record_id, **record}]})

        @app.post("/oauth/v2/token")
        def token():
            values = request.values
            if values.get("client_id") != CLIENT_ID or values.get("client_secret") != CLIENT_SECRET:
                return jsonify({"error": "invalid_client"})
            if values.get("grant_type") != "refresh_token" or \
                    values.get("refresh_token") != REFRESH_TOKEN:
                return jsonify({"error": "invalid_code"})
            if not self.grant_limit.allow():
                return jsonify(ACCESS_DENIED), 400
            access = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
            self.tokens[access] = datetime.now(timezone.utc) + TOKEN_LIFETIME
            while len(self.tokens) > LIVE_TOKENS:  # the oldest live token is deleted
                del self.tokens[next(iter(self.tokens))]
            self.token_grants += 1
            return jsonify({"access_token": access, "scope": "ZohoCRM.modules.ALL",
                            "api_domain": self.url, "token_type": "Bearer",
                            "expires_in": int(TOKEN_LIFETIME.total_seconds())})

        @app.post("/crm/v8/<module>/upsert")
        def upsert(module):
            if module not in self.records:
                return zoho_error(400, "INVALID_MODULE", "the module name given seems to be invalid")
            body = request.get_json()
            checks = body.get("duplicate_check_fields") or ["Email"]
            not_unique = [name for name in checks if name not in self.unique | SYSTEM_CHECKED]
            if not_unique:
                return zoho_error(400, "INVALID_DATA", "the given field is not unique",
                                  {"api_name": not_unique[0]})
            with self.lock:
                return many(body["data"],
                            lambda record, n: self.upserted(module, record, checks, n))

        @app.put("/crm/v8/<module>")
        def update_many(module):
            def updated(record, n):
                record_id = str(record.get("id"))
                if record_id not in self.records.get(module, {}):
                    return 400, result_of("INVALID_DATA", "the id given seems to be invalid",
                                          {"id": record_id, "json_path": f"$.data[{n}].id"})
                refused = self.refused_fields(record, n)
                if refused:
                    return refused
                fields = {name: value for name, value in record.items() if name != "id"}
                self.records[module][record_id].update(fields)
                self.search_index.write(f"{module}/{record_id}", self.records[module][record_id])
                return 200, result_of("SUCCESS", "record updated", {"id": record_id})
            if module not in self.records:
                return zoho_error(400, "INVALID_MODULE", "the module name given seems to be invalid")
            with self.lock:
                return many(request.get_json()["data"], updated)

        @app.put("/crm/v8/<module>/<record_id>")
        def update(module, record_id):
            record = request.get_json()["data"][0]
            with self.lock:
                if record_id not in self.records.get(module, {}):
                    return record_result(400, "INVALID_DATA", "the id given seems to be invalid",
                                         {"id": record_id})
                refused = self.refused_fields(record)
                if refused:
                    return jsonify({"data": [refused[1]]}), refused[0]
                self.records[module][record_id].update(record)
                self.search_index.write(f"{module}/{record_id}", self.records[module][record_id])
            return record_result(200, "SUCCESS", "record updated", {"id": record_id})

        @app.get("/crm/v8/<module>/search")
        def search(module):
            wanted = searched(request.args)
            with self.lock:
                indexed = self.search_index.visible()
                found = [{"id": key.split("/", 1)[1], **values}
                         for key, values in indexed.items()
                         if key.startswith(f"{module}/") and key.split("/", 1)[1] in
                         self.records.get(module, {}) and wanted and all(
                             str(values.get(name, "")).lower() == value.lower()
                             for name, value in wanted.items())]
            if not found:
                return Response(status=204)
            return jsonify({"data": found, "info": {"count": len(found), "more_records": False}})

        @app.get("/crm/v8/<module>")
        def list_records(module):
            if module not in self.records:
                return zoho_error(400, "INVALID_MODULE", "the module name given seems to be invalid")
            records = [{"id": i, **r} for i, r in self.records[module].items()][:1]
            if not records:
                return Response(status=204)
            return jsonify({"data": records, "info": {"count": 1, "more_records": False}})

        @app.get("/crm/v8/<module>/<record_id>/Notes")
        def record_notes(module, record_id):
            per_page, page = int(request.args.get("per_page", 200)), int(request.args.get("page", 1))
            with self.lock:
                notes = [{"id": i, "Note_Title": n["Note_Title"], "Note_Content": n["Note_Content"]}
                         for i, n in self.notes.items() if n["parent"] == (module, record_id)]
            chunk = notes[(page - 1) * per_page:page * per_page]
            if not chunk:
                return Response(status=204)
            more = page * per_page < len(notes)
            return jsonify({"data": chunk, "info": {"per_page": per_page, "count": len(chunk),
                                                    "page": page, "more_records": more}})

        @app.post("/crm/v8/<module>/<record_id>/Notes")
        def add_note(module, record_id):
            with self.lock:
                return many(request.get_json()["data"],
                            lambda note, n: self.note_added(note, module, record_id))

        @app.post("/crm/v8/Notes")
        def add_notes():
            def add(note, n):
                parent = note.get("Parent_Id")
                if isinstance(parent, dict):  # v8: {"module": {"api_name": ...}, "id": ...}
                    module, record_id = (parent.get("module") or {}).get("api_name"), parent.get("id")
                else:  # v2: the parent's id, and its module in se_module
                    module, record_id = note.get("se_module"), parent
                return self.note_added(note, module, str(record_id))
            with self.lock:
                return many(request.get_json()["data"], add)

        @app.put("/crm/v8/Notes/<note_id>")
        def update_note(note_id):
            note = request.get_json()["data"][0]
            with self.lock:
                if note_id not in self.notes:
                    return record_result(400, "INVALID_DATA", "the id given seems to be invalid",
                                         {"id": note_id})
                self.notes[note_id].update(note)
            return record_result(200, "SUCCESS", "record updated", {"id": note_id})

        return app


if __name__ == "__main__":
    run_from_command_line(FakeZoho, f"fake Zoho accounts and CRM API (client {CLIENT_ID}, "
                                    f"refresh token {REFRESH_TOKEN})")
