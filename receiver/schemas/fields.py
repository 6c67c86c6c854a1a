"""Fields for the shapes that differ between Rocket.Chat versions."""

import datetime as dt

from marshmallow import ValidationError, fields, utils, validate

from ..store.tables import ID_LENGTH
from .errors import FIRST_ERRORS

UNCHECKED = "_unchecked"  # beside a list's first errors: how many items after them were not read


class Storable(validate.Validator):
    """Text a database column can hold: not too long, no NUL, no unpaired surrogate.

    PostgreSQL refuses all three and SQLite the last; refusing them here turns what would
    be a retry that can never succeed into a quarantined body with a clear error.
    """

    def __init__(self, limit: int = ID_LENGTH):
        self.limit = limit

    def __call__(self, value: str) -> str:
        if len(value) > self.limit:
            raise ValidationError(f"Must be at most {self.limit} characters.")
        if "\x00" in value:
            raise ValidationError("Must not contain a NUL character.")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError("Must not contain an unpaired surrogate.") from None
        return value


class Timestamp(fields.AwareDateTime):
    """An ISO-8601 time, read as UTC when it has no offset, kept in UTC."""

    def __init__(self, **kwargs):
        super().__init__(default_timezone=dt.timezone.utc, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return moment.astimezone(dt.timezone.utc)
        except OverflowError:
            # Year 1 or 9999 with an offset cannot be expressed in UTC.
            raise self.make_error("invalid", input=value, obj_type="datetime") from None


def _address(item, key: str) -> str | None:
    """One address out of `"a@b"`, `{"address": "a@b"}` or `{"phoneNumber": "+1"}`."""
    if isinstance(item, str):
        return item.strip() or None
    if isinstance(item, dict):
        value = item.get(key)
        if value is None or isinstance(value, str):
            return (value or "").strip() or None
        raise ValidationError(f"`{key}` must be a string.")
    raise ValidationError(f"Expected a string or an object with `{key}`.")


class AddressList(fields.Field):
    """Emails or phones as Rocket.Chat sent them (string, object, list of either, or null), as a list of strings."""

    def __init__(self, key: str, **kwargs):
        kwargs.setdefault("load_default", list)
        kwargs.setdefault("allow_none", True)
        super().__init__(**kwargs)
        self.key = key

    def _deserialize(self, value, attr, data, **kwargs) -> list[str]:
        items = value if isinstance(value, list) else [value]
        found = []
        for item in items:
            if item is None:
                continue
            address = _address(item, self.key)
            if address and address not in found:
                found.append(address)
        return found

    def deserialize(self, value, attr=None, data=None, **kwargs):
        # A null here means "none known", the 1.x-5.x shape, not a missing value.
        if value is None:
            return []
        return super().deserialize(value, attr, data, **kwargs)


class FirstAddress(AddressList):
    """One email address where Rocket.Chat may send a string or (0.x) the whole emails array."""

    def __init__(self, **kwargs):
        kwargs.setdefault("load_default", None)
        super().__init__("address", **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> str | None:
        found = super()._deserialize(value, attr, data, **kwargs)
        return found[0] if found else None

    def deserialize(self, value, attr=None, data=None, **kwargs):
        if value is None:
            return None
        return fields.Field.deserialize(self, value, attr, data, **kwargs)


class OptionalDict(fields.Dict):
    """A free-form object (custom fields) that reads null as empty."""

    def __init__(self, **kwargs):
        super().__init__(keys=fields.String(), load_default=dict, allow_none=True, **kwargs)

    def deserialize(self, value, attr=None, data=None, **kwargs):
        if value is None:
            return {}
        return super().deserialize(value, attr, data, **kwargs)


class BoundedList(fields.List):
    """A list that stops at its first few failing items: a refusal costs no more than an acceptance."""

    def _deserialize(self, value, attr, data, **kwargs) -> list:
        if not utils.is_collection(value):
            raise self.make_error("invalid")
        result, errors = [], {}
        for index, item in enumerate(value):
            try:
                result.append(self.inner.deserialize(item, **kwargs))
            except ValidationError as error:
                errors[index] = error.messages
                if len(errors) == FIRST_ERRORS:
                    # The body is refused either way; the rest would only add errors.
                    if index + 1 < len(value):
                        errors[UNCHECKED] = len(value) - index - 1
                    break
        if errors:
            raise ValidationError(errors, valid_data=result)
        return result


class OptionalList(BoundedList):
    """A list that reads null and absence as empty."""

    def __init__(self, inner, **kwargs):
        super().__init__(inner, load_default=list, allow_none=True, **kwargs)

    def deserialize(self, value, attr=None, data=None, **kwargs):
        if value is None:
            return []
        return super().deserialize(value, attr, data, **kwargs)
