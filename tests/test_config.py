"""Settings come from the environment; mistakes name the variable to fix."""

import pytest

from receiver import create_app
from receiver.config import ConfigError, load_settings, normalize_database_url


def test_refuses_to_start_without_a_token():
    with pytest.raises(ConfigError, match="ROCKETCHAT_LIVECHAT_TOKEN"):
        create_app({"DATABASE_URL": "sqlite://"})


def test_blank_tokens_do_not_count():
    with pytest.raises(ConfigError, match="ROCKETCHAT_LIVECHAT_TOKEN"):
        load_settings({"ROCKETCHAT_LIVECHAT_TOKEN": " , "})


def test_token_list_for_rotation():
    settings = load_settings({"ROCKETCHAT_LIVECHAT_TOKEN": "new, old ,"})
    assert settings.tokens == ("new", "old")


def test_defaults(tmp_path):
    settings = load_settings({"ROCKETCHAT_LIVECHAT_TOKEN": "t"}, instance_path=str(tmp_path))
    assert settings.database_url == f"sqlite:///{tmp_path}/receiver.sqlite3"
    assert settings.max_body_bytes == 10 * 1024 * 1024
    assert settings.lease_seconds == 30
    assert settings.adapters == ()


@pytest.mark.parametrize("url, expected", [
    ("postgres://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
    ("postgresql://u@h/d", "postgresql+psycopg://u@h/d"),
    ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
    ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
])
def test_database_urls(url, expected):
    assert normalize_database_url(url) == expected


@pytest.mark.parametrize("variable, value", [
    ("RECEIVER_MAX_BODY_BYTES", "ten"),
    ("RECEIVER_MAX_BODY_BYTES", "0"),
    ("RECEIVER_LEASE_SECONDS", "-1"),
])
def test_malformed_numbers_name_the_variable(variable, value):
    with pytest.raises(ConfigError, match=variable):
        load_settings({"ROCKETCHAT_LIVECHAT_TOKEN": "t", variable: value})


@pytest.mark.parametrize("variable, value", [
    ("RECEIVER_HUBSPOT_INCLUDE_TEST", "maybe"),
    ("RECEIVER_HUBSPOT_CUSTOM_FIELDS", "cpf"),
    ("RECEIVER_HUBSPOT_CUSTOM_FIELDS", "cpf=,b=c"),
])
def test_malformed_adapter_flags_and_mappings_name_the_variable(variable, value):
    with pytest.raises(ConfigError, match=variable):
        load_settings({"ROCKETCHAT_LIVECHAT_TOKEN": "t", "RECEIVER_ADAPTERS": "hubspot",
                       "RECEIVER_HUBSPOT_TOKEN": "pat", variable: value})


@pytest.mark.parametrize("adapter, variable", [
    ("jsonl", "RECEIVER_JSONL_PATH"), ("http", "RECEIVER_HTTP_URL")])
def test_adapter_settings_are_required(adapter, variable):
    with pytest.raises(ConfigError, match=variable):
        load_settings({"ROCKETCHAT_LIVECHAT_TOKEN": "t", "RECEIVER_ADAPTERS": adapter})


def test_lease_must_outlast_the_adapter_timeout():
    with pytest.raises(ConfigError, match="RECEIVER_LEASE_SECONDS"):
        load_settings({"ROCKETCHAT_LIVECHAT_TOKEN": "t", "RECEIVER_LEASE_SECONDS": "5"})
