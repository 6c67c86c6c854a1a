"""Calls to the Zoho CRM REST API (v8): upsert records, read and write their notes."""

from urllib.parse import quote

from ..api import ApiError, ApiSession, Permanent, Transient, asked_delay, error_for, json_of
from ..matching import LostAnswer
from .auth import THROTTLED_DELAY, AccessTokens

API_PATH = "/crm/v8"
DEFAULT_API_DOMAIN = "https://www.zohoapis.com"
CREDENTIALS = "RECEIVER_ZOHO_REFRESH_TOKEN and its scope ZohoCRM.modules.ALL"
EXPIRED_TOKEN_CODES = {"INVALID_TOKEN", "AUTHENTICATION_FAILURE"}
BATCH_SIZE = 100  # records (or notes) Zoho takes in one write


def first_result(body: dict) -> dict:
    """The per-record result of a write: Zoho answers a list, one entry per record sent."""
    results = body.get("data") or [{}]
    return results[0] if isinstance(results, list) else {}


def describe(result: dict) -> str:
    """`CODE: message (field X)` from one of Zoho's error objects."""
    field = (result.get("details") or {}).get("api_name")
    return f"{result.get('code')}: {result.get('message')}" + (f" (field {field})" if field else "")


def record_error(result: dict) -> Permanent:
    return Permanent(f"Zoho CRM refused the record: {describe(result)}")


def inserted(result: dict) -> tuple[str, bool] | ApiError:
    """(id, whether it existed) from one record's result of an insert, or its error."""
    duplicate = (result.get("details") or {}).get("duplicate_record") or {}
    if result.get("code") == "DUPLICATE_DATA" and duplicate.get("id"):
        return str(duplicate["id"]), True
    if result.get("status") == "success":
        return str(result["details"]["id"]), False
    return record_error(result)


class ZohoClient:
    """The handful of Zoho CRM calls the adapter makes; every failure raises an ApiError."""

    def __init__(self, api: ApiSession, tokens: AccessTokens, api_url: str | None):
        self.api = api
        self.tokens = tokens
        self.api_url = api_url

    def call(self, method: str, path: str, **kwargs) -> dict:
        response = self.send(method, path, **kwargs)
        if 200 <= response.status_code < 300:
            return json_of(response)  # 204 (nothing found) reads as {}
        raise self.error(response)

    def send(self, method: str, path: str, **kwargs):
        """The CRM's answer, with the access token renewed once if Zoho rejected it early."""
        for attempt in (1, 2):
            token = self.tokens.current()
            base = self.api_url or self.tokens.api_domain or DEFAULT_API_DOMAIN
            response = self.api.request(method, base + API_PATH + path,
                                        headers={"Authorization": f"Zoho-oauthtoken {token}"},
                                        **kwargs)
            code = json_of(response).get("code")
            if response.status_code == 401 and code in EXPIRED_TOKEN_CODES and attempt == 1:
                self.tokens.invalidate()  # expired or revoked early: renew once and try again
                continue
            break
        return response

    def error(self, response):
        body = json_of(response)
        result = body if body.get("code") else first_result(body)
        message = describe(result) if result.get("code") else response.text[:300] or "no message"
        delay = asked_delay(response)
        if response.status_code == 429 and delay is None:
            delay = THROTTLED_DELAY
        return error_for(response, "Zoho CRM", message=message, credentials=CREDENTIALS,
                         delay=delay)

    def written_id(self, body: dict) -> str:
        result = first_result(body)
        if result.get("status") != "success":
            raise record_error(result)
        return str(result["details"]["id"])

    def update(self, module: str, record_id: str, record: dict) -> None:
        self.written_id(self.call("PUT", f"/{module}/{record_id}",
                                  json={"data": [record], "trigger": []}))

    def insert(self, module: str, record: dict) -> tuple[str, bool]:
        """The new record's id, or, when a unique field's value is taken, the id of the
        record holding it; True when it existed. LostAnswer when the answer never came."""
        try:
            response = self.send("POST", f"/{module}", json={"data": [record], "trigger": []})
        except Transient as error:
            raise LostAnswer(error.reason) from None
        if response.status_code >= 500:
            raise LostAnswer(self.error(response).reason, asked_delay(response))
        result = first_result(json_of(response))
        duplicate = (result.get("details") or {}).get("duplicate_record") or {}
        if result.get("code") == "DUPLICATE_DATA" and duplicate.get("id"):
            return str(duplicate["id"]), True
        if not 200 <= response.status_code < 300:
            raise self.error(response)
        return self.written_id(json_of(response)), False

    def insert_many(self, module: str, records: list[dict]) -> list[tuple[str, bool] | ApiError]:
        """Insert records, a hundred a call: as `insert` answers for one, or the error Zoho
        gave for it; Zoho answers one result per record, in order."""
        made: list[tuple[str, bool] | ApiError] = []
        for start in range(0, len(records), BATCH_SIZE):
            chunk = records[start:start + BATCH_SIZE]
            try:
                response = self.send("POST", f"/{module}", json={"data": chunk, "trigger": []})
            except Transient as error:
                made += [LostAnswer(error.reason)] * len(chunk)
                continue
            if response.status_code >= 500:
                made += [LostAnswer(self.error(response).reason, asked_delay(response))] * len(chunk)
                continue
            results = json_of(response).get("data")
            if not isinstance(results, list):  # an error of the whole call
                made += [self.error(response)] * len(chunk)
                continue
            made += [inserted(results[n] if n < len(results) else {}) for n in range(len(chunk))]
        return made

    def update_many(self, module: str, updates: list[tuple[str, dict]]) -> list[bool]:
        """Update records (id, fields), a hundred a call: whether each was updated, as Zoho
        answers one result per record, in order. A failure of a whole call raises."""
        done: list[bool] = []
        for start in range(0, len(updates), BATCH_SIZE):
            chunk = updates[start:start + BATCH_SIZE]
            answer = self.call("PUT", f"/{module}", json={"trigger": [], "data": [
                {"id": record_id, **fields} for record_id, fields in chunk]})
            results = answer.get("data") or []
            done += [n < len(results) and results[n].get("status") == "success"
                     for n in range(len(chunk))]
        return done

    def read(self, module: str, record_id: str, fields: list[str]) -> dict | None:
        """The record's `fields` as Zoho holds them now, or None if it has no such record."""
        try:
            found = self.call("GET", f"/{module}/{quote(record_id, safe='')}",
                              params={"fields": ",".join(fields)})
        except Permanent as error:
            if "INVALID_DATA" in error.reason:  # an id Zoho does not know (deleted)
                return None
            raise
        records = found.get("data") or []
        return records[0] if records else None

    def search(self, module: str, params: dict) -> str | None:
        """The first record the search finds (`email=`, `phone=` or `criteria=`)."""
        found = self.call("GET", f"/{module}/search", params={**params, "per_page": 1})
        records = found.get("data") or []
        return str(records[0]["id"]) if records else None

    def notes(self, module: str, record_id: str) -> dict[str, str]:
        """The content of every note on the record, by note id."""
        contents, page = {}, 1
        while True:
            found = self.call("GET", f"/{module}/{record_id}/Notes", params={
                "fields": "Note_Title,Note_Content", "per_page": 200, "page": page})
            for note in found.get("data") or []:
                contents[str(note["id"])] = note.get("Note_Content") or ""
            if not (found.get("info") or {}).get("more_records"):
                return contents
            page += 1

    def add_notes(self, notes: list[tuple[str, str, str, str]]) -> list[str | ApiError]:
        """Add notes (module, record id, title, content) in one call per hundred: each one's
        id, or the error Zoho gave for it; Zoho answers one result per note, in order."""
        made: list[str | ApiError] = []
        for start in range(0, len(notes), BATCH_SIZE):
            chunk = notes[start:start + BATCH_SIZE]
            answer = self.call("POST", "/Notes", json={"data": [{
                "Note_Title": title, "Note_Content": content,
                "Parent_Id": {"module": {"api_name": module}, "id": record_id},
            } for module, record_id, title, content in chunk]})
            results = answer.get("data") or []
            for n in range(len(chunk)):
                result = results[n] if n < len(results) else {}
                made.append(str(result["details"]["id"]) if result.get("status") == "success"
                            else record_error(result))
        return made

    def update_note(self, note_id: str, title: str, content: str) -> None:
        self.written_id(self.call("PUT", f"/Notes/{quote(note_id, safe='')}", json={
            "data": [{"Note_Title": title, "Note_Content": content}]}))

    def probe(self, module: str) -> None:
        """Read one record of the module: proves the token, the scope and the domain."""
        self.call("GET", f"/{module}", params={"fields": "Last_Name", "per_page": 1})
