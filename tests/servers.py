"""Real server processes for tests: gunicorn serving the receiver, on a free local port."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_listening(port: int, process: subprocess.Popen, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port} after {timeout} s")


@dataclass
class Web:
    """A running gunicorn: its webhook URL, and a way to make it crash."""

    url: str
    process: subprocess.Popen

    def crash(self) -> None:
        """SIGKILL the arbiter and every web worker at once, as a machine losing them would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)


@contextlib.contextmanager
def gunicorn(environment: dict, workers: int = 3):
    """`gunicorn wsgi:app` as the Procfile runs it, in a process group of its own."""
    port = free_port()
    env = {**os.environ, **environment}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "wsgi:app", "--workers", str(workers),
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT, env=env, start_new_session=True,
    )
    try:
        wait_until_listening(port, process)
        yield Web(f"http://127.0.0.1:{port}/webhooks/rocketchat", process)
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(30)


def start_worker(environment: dict) -> subprocess.Popen:
    """`receiver worker` as the Procfile runs it."""
    return subprocess.Popen([sys.executable, "-m", "receiver", "worker"], cwd=ROOT,
                            env={**os.environ, **environment})


@contextlib.contextmanager
def workers(environment: dict, count: int):
    """`count` worker processes for the block, stopped as SIGTERM stops them, then waited for."""
    processes = [start_worker(environment) for _ in range(count)]
    try:
        yield processes
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(20)


def wait_for(condition, timeout: float = 30) -> bool:
    """Poll `condition` until it holds; False if it still does not after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def post(url: str, body: bytes, token: str, timeout: float = 10):
    """POST like Rocket.Chat; returns (status, body bytes)."""
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "X-RocketChat-Livechat-Token": token})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
