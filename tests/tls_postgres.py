"""A private PostgreSQL server that, like Heroku Postgres, refuses connections without TLS."""

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from .servers import free_port, wait_until_listening

# Connections over TCP must use TLS; the socket in the data folder is for nobody but tests.
HBA = """\
hostssl all all 127.0.0.1/32 trust
hostnossl all all 127.0.0.1/32 reject
local all all trust
"""


def server_binaries() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian keeps one per major version)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda path: int(Path(path).parent.parent.name))
    return Path(found[-1]).parent if found else None


def _as_server_user():
    """Popen arguments that run a command as `postgres` when tests run as root (it refuses root)."""
    if os.geteuid() != 0:
        return {}
    return {"user": "postgres", "group": "postgres"}


def _hand_over(path: Path) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _wait_until_accepting(url: str, timeout: float = 20) -> None:
    """Wait out the server's start-up, during which it refuses sessions."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg.connect(url, sslmode="require", connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextlib.contextmanager
def tls_postgres(certificate):
    """Start a throwaway cluster serving TLS with `certificate` (a trustme LeafCert); yield its URL."""
    binaries = server_binaries()
    if binaries is None:
        pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql")
    # Not under pytest's tmp_path: the server's user must be able to reach the folder.
    folder = Path(tempfile.mkdtemp(prefix="receiver-tls-pg-"))
    data = folder / "data"
    try:
        _hand_over(folder)
        subprocess.run([binaries / "initdb", "-D", data, "-U", "postgres", "-A", "trust",
                        "--no-sync"], check=True, capture_output=True, **_as_server_user())
        (data / "pg_hba.conf").write_text(HBA)
        certificate.cert_chain_pems[0].write_to_path(data / "server.crt")
        certificate.private_key_pem.write_to_path(data / "server.key")
        for name in ("pg_hba.conf", "server.crt", "server.key"):
            (data / name).chmod(0o600)
            _hand_over(data / name)
        port = free_port()
        server = subprocess.Popen(
            [binaries / "postgres", "-D", data, "-c", "listen_addresses=127.0.0.1",
             "-c", f"port={port}", "-c", f"unix_socket_directories={data}", "-c", "ssl=on",
             "-c", "fsync=off"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **_as_server_user())
        try:
            wait_until_listening(port, server)
            url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
            _wait_until_accepting(url)
            yield url
        finally:
            server.send_signal(signal.SIGINT)  # a fast shutdown: end sessions, then stop
            server.wait(30)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
