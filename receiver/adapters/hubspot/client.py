"""Calls to HubSpot's CRM REST API (v3 objects, v4 associations), reading its errors and limits."""

import re
from urllib.parse import quote

from ..api import ApiError, ApiSession, Permanent, Transient, asked_delay, error_for, json_of
from ..matching import LostAnswer

CONTACTS = "/crm/v3/objects/contacts"
NOTES = "/crm/v3/objects/notes"
NOTE_TO_CONTACT = 202  # HubSpot-defined association type id: note to contact
BATCH_READ_SIZE = 100  # HubSpot's batch endpoints take up to 100 inputs
SEARCH_LIMIT = 100  # results per page of a search
CREDENTIALS = "RECEIVER_HUBSPOT_TOKEN and the private app's scopes"
EXISTING_ID = re.compile(r"Existing ID: (\d+)")


class NotFound(Transient):
    """HubSpot has no such record (deleted, or merged into another).

    Where it is not caught, the delivery is tried again, and the next attempt matches the
    visitor afresh instead of writing to a record that is gone.
    """


class Conflict(Permanent):
    """A unique property's value belongs to another contact (409 CONFLICT)."""


def association(contact_id: str) -> dict:
    """A note's association to its contact, as a create sends it."""
    return {"to": {"id": contact_id}, "types": [
        {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": NOTE_TO_CONTACT}]}


def traced(error: dict) -> list[str]:
    """The trace ids of the inputs one error of a 207 answer is about."""
    keys = (error.get("context") or {}).get("objectWriteTraceId") or []
    return keys if isinstance(keys, list) else [keys]


def limit_window(response) -> float | None:
    """How long a 429 without Retry-After should wait: the window of the limit that was hit."""
    headers = response.headers
    if json_of(response).get("policyName") == "DAILY" or \
            headers.get("X-HubSpot-RateLimit-Daily-Remaining") == "0":
        return 3600.0  # the daily allowance resets at the account's midnight; look again hourly
    interval = headers.get("X-HubSpot-RateLimit-Interval-Milliseconds", "")
    return int(interval) / 1000 if interval.isdigit() else None


class HubSpotClient:
    """The handful of HubSpot calls the adapter makes; every failure raises an ApiError."""

    def __init__(self, api: ApiSession, api_url: str, token: str):
        self.api = api
        self.base = api_url
        api.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, **kwargs) -> dict:
        response = self.api.request(method, self.base + path, **kwargs)
        if 200 <= response.status_code < 300:
            return json_of(response)
        if response.status_code == 404:
            raise NotFound(f"HubSpot has no record at {path}")
        error = self.error(response)
        if response.status_code == 409:
            raise Conflict(error.reason)
        raise error

    def error(self, response):
        body = json_of(response)
        message = body.get("message") or response.text[:300] or "no message"
        if body.get("category"):
            message = f"{body['category']}: {message}"
        delay = asked_delay(response)
        if response.status_code == 429 and delay is None:
            delay = limit_window(response)
        return error_for(response, "HubSpot", message=message, credentials=CREDENTIALS, delay=delay)

    def contact_by(self, property_name: str, value: str) -> str | None:
        """The id of the contact whose unique property holds `value` (a consistent read)."""
        try:
            found = self.call("GET", f"{CONTACTS}/{quote(value, safe='')}",
                              params={"idProperty": property_name, "properties": property_name})
        except NotFound:
            return None
        return found["id"]

    def contacts_by(self, property_name: str, values: list[str],
                    properties: list[str]) -> dict[str, tuple[str, dict]]:
        """Each contact whose unique property holds one of `values`, as (id, its
        `properties`) by the value asked for; values no contact holds are left out."""
        found = {}
        wanted = {value.casefold(): value for value in values}
        for start in range(0, len(values), BATCH_READ_SIZE):
            # A value no contact holds is an error of the 207 answer, not of the call.
            answer = self.call("POST", f"{CONTACTS}/batch/read", json={
                "idProperty": property_name, "properties": properties,
                "inputs": [{"id": value} for value in values[start:start + BATCH_READ_SIZE]]})
            for contact in answer.get("results") or []:
                held = contact.get("properties") or {}
                value = wanted.get(str(held.get(property_name) or "").casefold())
                if value is not None:
                    found[value] = (contact["id"], {name: held.get(name) for name in properties})
        return found

    def search_contact(self, property_name: str, value: str) -> str | None:
        """The first contact whose property equals `value`, per HubSpot's search index."""
        found = self.call("POST", f"{CONTACTS}/search", json={
            "filterGroups": [{"filters": [
                {"propertyName": property_name, "operator": "EQ", "value": value}]}],
            "properties": [property_name], "limit": 1,
        })
        results = found.get("results") or []
        return results[0]["id"] if results else None

    def search_contacts(self, property_name: str,
                        values: list[str]) -> tuple[dict[str, str], bool]:
        """The id of the first contact whose property equals each of `values`, per HubSpot's
        search index, in one search, by value; and whether every contact found is in the
        answer (False: more pages, so a value left out may be held)."""
        found = self.call("POST", f"{CONTACTS}/search", json={
            "filterGroups": [{"filters": [
                {"propertyName": property_name, "operator": "IN", "values": values}]}],
            "properties": [property_name], "limit": SEARCH_LIMIT,
        })
        first = {}
        for contact in found.get("results") or []:
            value = (contact.get("properties") or {}).get(property_name)
            if value in values:
                first.setdefault(value, contact["id"])
        return first, not (found.get("paging") or {}).get("next")

    def read_contact(self, contact_id: str, properties: list[str]) -> dict | None:
        """The contact's `properties` as HubSpot holds them now, or None if it has none."""
        try:
            found = self.call("GET", f"{CONTACTS}/{quote(contact_id, safe='')}",
                              params={"properties": ",".join(properties)})
        except NotFound:
            return None
        return found.get("properties") or {}

    def create_contact(self, properties: dict) -> tuple[str, bool]:
        """The new contact's id, or, when a unique property already belongs to one, that
        one's id; True when it existed. LostAnswer when the answer never came."""
        try:
            response = self.api.request("POST", self.base + CONTACTS,
                                        json={"properties": properties})
        except Transient as error:
            raise LostAnswer(error.reason) from None
        if response.status_code == 409:
            existing = EXISTING_ID.search(json_of(response).get("message", ""))
            if existing:
                return existing.group(1), True
        if response.status_code >= 500:
            raise LostAnswer(self.error(response).reason, asked_delay(response))
        if not 200 <= response.status_code < 300:
            raise self.error(response)
        return json_of(response)["id"], False

    def create_contacts(self, inputs: list[dict]) -> list[tuple[str, bool] | ApiError]:
        """Create a contact for each of `inputs` (their properties), a hundred a call: as
        `create_contact` answers for one, or the error HubSpot gave for it, in order."""
        made: list[tuple[str, bool] | ApiError] = []
        for start in range(0, len(inputs), BATCH_READ_SIZE):
            chunk = inputs[start:start + BATCH_READ_SIZE]
            made += self.created_contacts(chunk)
        return made

    def created_contacts(self, chunk: list[dict]) -> list[tuple[str, bool] | ApiError]:
        try:
            # A trace id per input asks for a 207 answer naming each input that failed.
            response = self.api.request("POST", f"{self.base}{CONTACTS}/batch/create", json={
                "inputs": [{"objectWriteTraceId": str(n), "properties": properties}
                           for n, properties in enumerate(chunk)]})
        except Transient as error:
            return [LostAnswer(error.reason)] * len(chunk)
        if response.status_code >= 500:
            return [LostAnswer(self.error(response).reason, asked_delay(response))] * len(chunk)
        if not 200 <= response.status_code < 300:
            return [self.error(response)] * len(chunk)
        answer = json_of(response)
        made = {result.get("objectWriteTraceId"): (result["id"], False)
                for result in answer.get("results") or []}
        for error in answer.get("errors") or []:
            existing = EXISTING_ID.search(error.get("message") or "")
            for key in traced(error):
                made[key] = (existing.group(1), True) if existing else Permanent(
                    f"HubSpot HTTP {error.get('httpStatus') or 400}: "
                    f"{error.get('category')}: {error.get('message')}")
        return [made.get(str(n)) or Permanent("HubSpot answered nothing for the contact")
                for n in range(len(chunk))]

    def update_contacts(self, updates: list[tuple[str, dict]]) -> list[bool]:
        """Update contacts (id, properties), a hundred a call: whether each was updated;
        the ones HubSpot refused (a conflict, a contact gone) are for a call of their own.
        A failure of a whole call raises, as for one update."""
        done: list[bool] = []
        for start in range(0, len(updates), BATCH_READ_SIZE):
            chunk = updates[start:start + BATCH_READ_SIZE]
            try:
                answer = self.call("POST", f"{CONTACTS}/batch/update", json={"inputs": [
                    {"id": contact_id, "objectWriteTraceId": str(n), "properties": properties}
                    for n, (contact_id, properties) in enumerate(chunk)]})
            except Permanent:  # one bad input refuses a batch that carries no trace ids
                done += [False] * len(chunk)
                continue
            refused = {key for error in answer.get("errors") or [] for key in traced(error)}
            refused |= {contact_id for error in answer.get("errors") or []
                        for contact_id in (error.get("context") or {}).get("ids") or []}
            done += [str(n) not in refused and contact_id not in refused
                     for n, (contact_id, _) in enumerate(chunk)]
        return done

    def update_contact(self, contact_id: str, properties: dict) -> None:
        self.call("PATCH", f"{CONTACTS}/{contact_id}", json={"properties": properties})

    def note_bodies(self, contact_id: str) -> dict[str, str]:
        """The body of every note associated with the contact, by note id."""
        note_ids, after = [], None
        while True:
            params = {"limit": 500, **({"after": after} if after else {})}
            page = self.call("GET", f"/crm/v4/objects/contacts/{contact_id}/associations/notes",
                             params=params)
            note_ids += [str(item["toObjectId"]) for item in page.get("results") or []]
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
        bodies = {}
        for start in range(0, len(note_ids), BATCH_READ_SIZE):
            batch = note_ids[start:start + BATCH_READ_SIZE]
            found = self.call("POST", f"{NOTES}/batch/read", json={
                "properties": ["hs_note_body"], "inputs": [{"id": i} for i in batch]})
            for note in found.get("results") or []:
                bodies[note["id"]] = (note.get("properties") or {}).get("hs_note_body") or ""
        return bodies

    def create_notes(self, notes: dict[str, tuple[str, dict]]) -> dict[str, str | ApiError]:
        """Create notes, each on its contact, in one call per hundred: the note id, or the
        error HubSpot gave for that note, by the key each was given (its write trace id)."""
        made: dict[str, str | ApiError] = {}
        keys = list(notes)
        for start in range(0, len(keys), BATCH_READ_SIZE):
            inputs = [{"objectWriteTraceId": key, "properties": notes[key][1],
                       "associations": [association(notes[key][0])]}
                      for key in keys[start:start + BATCH_READ_SIZE]]
            # A trace id per input asks for a 207 answer naming each input that failed.
            answer = self.call("POST", f"{NOTES}/batch/create", json={"inputs": inputs})
            for note in answer.get("results") or []:
                made[note.get("objectWriteTraceId")] = note["id"]
            for error in answer.get("errors") or []:
                for key in traced(error):
                    made[key] = Permanent(f"HubSpot refused the note: "
                                          f"{error.get('category')}: {error.get('message')}")
        return made

    def update_note(self, note_id: str, properties: dict) -> None:
        self.call("PATCH", f"{NOTES}/{note_id}", json={"properties": properties})

    def contact_property(self, name: str) -> dict:
        """The definition of a contact property; Permanent naming the fix if it is missing."""
        try:
            return self.call("GET", f"/crm/v3/properties/contacts/{quote(name, safe='')}")
        except NotFound:
            raise Permanent(
                f"HubSpot has no contact property {name!r}: create it (Settings > Properties > "
                f"Contact properties, single-line text, unique values) or set "
                f"RECEIVER_HUBSPOT_TOKEN_PROPERTY to the one that holds the visitor token"
            ) from None
