"""Every start, configuration and command error is one line naming what to fix, never a traceback."""

import pytest
from click.testing import CliRunner

from receiver import cli

from .builders import TOKEN
from .postgres import postgres_admin_url

BASE = {"ROCKETCHAT_LIVECHAT_TOKEN": TOKEN, "RECEIVER_LOG_LEVEL": None,
        "RECEIVER_ADAPTERS": None, "DATABASE_URL": None}


def run(args, **environ):
    """The command's exit code and its output, stdout and stderr together."""
    result = CliRunner().invoke(cli.main, args, env={**BASE, **environ})
    return result.exit_code, result.output


def one_error_line(output: str) -> str:
    assert "Traceback" not in output
    (line,) = [line for line in output.splitlines() if line.startswith("Error")]
    return line


def unused_database(admin_url: str) -> str:
    return admin_url.rsplit("/", 1)[0].replace("+psycopg", "") + "/receiver_no_such_database"


@pytest.mark.parametrize("args, environ, says", [
    (["events", "list"], {"DATABASE_URL": "postgres://nobody@127.0.0.1:1/x"},
     ["DATABASE_URL", "postgres://nobody@127.0.0.1:1/x", "Connection refused"]),
    (["db", "upgrade"], {"DATABASE_URL": "mysqll://x"}, ["DATABASE_URL", "'mysqll'"]),
    (["events", "list"], {"RECEIVER_LOG_LEVEL": "verbose"},
     ["RECEIVER_LOG_LEVEL", "DEBUG, INFO, WARNING, ERROR, CRITICAL", "'verbose'"]),
    (["worker", "--once"], {"RECEIVER_ADAPTERS": "htp"}, ["RECEIVER_ADAPTERS", "htp"]),
    (["worker", "--once"], {"ROCKETCHAT_LIVECHAT_TOKEN": None}, ["ROCKETCHAT_LIVECHAT_TOKEN"]),
    (["worker", "--once"], {"RECEIVER_ADAPTERS": "jsonl"}, ["RECEIVER_JSONL_PATH"]),
])
def test_a_wrong_setting_is_one_line_naming_it(tmp_path, args, environ, says):
    environ.setdefault("DATABASE_URL", f"sqlite:///{tmp_path / 'r.sqlite3'}")
    code, output = run(args, **environ)
    assert code == 1
    line = one_error_line(output)
    assert all(words in line for words in says), line


def test_a_password_in_the_url_is_not_printed():
    code, output = run(["events", "list"], DATABASE_URL="postgres://me:s3cret@127.0.0.1:1/x")
    assert code == 1 and "s3cret" not in output and "***" in one_error_line(output)


@pytest.mark.postgres
def test_a_database_that_does_not_exist_is_named():
    url = unused_database(postgres_admin_url())
    try:
        import psycopg
        psycopg.connect(postgres_admin_url().replace("+psycopg", ""), connect_timeout=2).close()
    except Exception as error:
        pytest.skip(f"no PostgreSQL server: {error}")
    code, output = run(["db", "upgrade"], DATABASE_URL=url)
    assert code == 1
    assert 'database "receiver_no_such_database" does not exist' in one_error_line(output)


def test_replay_to_an_adapter_not_installed_names_the_option(tmp_path):
    code, output = run(["replay", "evt_x", "--adapter", "nosuch"],
                       DATABASE_URL=f"sqlite:///{tmp_path / 'r.sqlite3'}")
    assert code == 2
    assert "--adapter" in output and "'nosuch'" in output and "RECEIVER_ADAPTERS" not in output
    assert "Traceback" not in output


def test_version_and_short_help():
    code, output = run(["--version"])
    assert code == 0 and output.startswith("receiver, version ")
    code, output = run(["events", "-h"])
    assert code == 0 and "events [OPTIONS] COMMAND" in output and "-h, --help" in output


@pytest.mark.parametrize("args", [["db", "upgrade"], ["events", "list"], ["deliveries", "summary"],
                                  ["quarantine", "list"], ["adapters", "list"]])
def test_inspection_and_repair_need_only_the_database(tmp_path, args):
    """Neither the webhook token nor an adapter's settings: those are for serving and delivering."""
    database = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    assert run(["db", "upgrade"], DATABASE_URL=database, ROCKETCHAT_LIVECHAT_TOKEN=None)[0] == 0
    code, output = run(args, DATABASE_URL=database, ROCKETCHAT_LIVECHAT_TOKEN=None,
                       RECEIVER_ADAPTERS="jsonl,nosuch")
    assert code == 0, output
