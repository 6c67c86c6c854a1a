"""A migrated SQLite store per test for adapters that remember CRM links, copied from one
migrated once per session."""

import shutil

import pytest

from receiver.store import schema
from receiver.store.db import make_engine


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("store") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    schema.upgrade(engine)
    engine.dispose()
    return str(path)


@pytest.fixture
def store_url(migrated_template, tmp_path) -> str:
    """The URL of an empty, migrated SQLite database of this test's own."""
    path = tmp_path / "receiver.sqlite3"
    shutil.copy(migrated_template, path)
    return f"sqlite:///{path}"
