"""The operator's opt-in list of CRM fields that chat data may overwrite."""

from ..config import ConfigError


def read_overwrite_fields(environ, name: str, token_field: str | None) -> frozenset:
    """Field names from a comma-separated `environ[name]`; never the visitor-token field."""
    fields = frozenset(part.strip() for part in (environ.get(name) or "").split(",")
                       if part.strip())
    if token_field and token_field in fields:
        raise ConfigError(f"{name} may not name {token_field}: the visitor-token field is "
                          "only ever set on a record that has none")
    return fields
