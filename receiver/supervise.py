"""Runs the web and worker processes of `receiver serve` side by side, and stops them together."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading


def port_problem(host: str, port: int) -> str | None:
    """Why nothing can listen on `host:port` now (something already does); None if it is free."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return (f"cannot listen on {host}:{port}: {error.strerror}; stop what holds the port, "
                    "or choose another with --port or PORT")
    return None


def listening(host: str, port: int) -> bool:
    """Whether the web process accepts connections yet."""
    address = "127.0.0.1" if host in ("0.0.0.0", "") else host
    try:
        socket.create_connection((address, port), timeout=0.2).close()
        return True
    except OSError:
        return False


def commands(host: str, port: int, workers: int, with_worker: bool) -> dict[str, list[str]]:
    """The command lines of the web process (gunicorn) and, `with_worker`, a delivery worker."""
    found = {"web": [sys.executable, "-m", "gunicorn", "receiver:create_app()",
                     "--config", "python:receiver.gunicorn_config",
                     "--bind", f"{host}:{port}", "--workers", str(workers)]}
    if with_worker:
        found["worker"] = [sys.executable, "-m", "receiver", "worker"]
    return found


def supervise(commands: dict, env: dict, ready=lambda: True, announce: str = "",
              say=print) -> int:
    """Run the commands as child processes until one exits or a stop signal comes; the exit code.

    `announce` is passed to `say` once `ready()` holds, so it is never said of a server that
    failed.
    """
    children = {name: subprocess.Popen(command, env=env) for name, command in commands.items()}
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.is_set() and all(child.poll() is None for child in children.values()):
        if announce and ready():
            say(announce)
            announce = ""
        stop.wait(0.1 if announce else 0.5)
    for child in children.values():
        if child.poll() is None:
            child.terminate()  # each finishes what it has in hand, then exits
    codes = {name: _stopped(child) for name, child in children.items()}
    return 0 if stop.is_set() else max(abs(code) for code in codes.values()) or 1


def _stopped(child: subprocess.Popen, grace: float = 30) -> int:
    """Its exit code once it has finished what it had in hand; killed if it takes longer."""
    try:
        return child.wait(grace)
    except subprocess.TimeoutExpired:
        child.kill()
        return child.wait()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process, running
        pass
    return True


def own_metrics_folder(shared: str) -> str:
    """A fresh `serve-<pid>` folder in `shared` for this run's metric files.

    Other programs may keep their own metric files in a PROMETHEUS_MULTIPROC_DIR, and two
    `receiver serve` may share one, so this only clears folders of earlier runs whose
    process is gone; the counters restart with the processes.
    """
    os.makedirs(shared, mode=0o700, exist_ok=True)
    for name in os.listdir(shared):
        pid = name.removeprefix("serve-")
        if name.startswith("serve-") and pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(os.path.join(shared, name), ignore_errors=True)
        elif name.endswith(f"_{os.getpid()}.db"):  # this process's own, made on import
            os.remove(os.path.join(shared, name))
    mine = os.path.join(shared, f"serve-{os.getpid()}")
    shutil.rmtree(mine, ignore_errors=True)
    os.mkdir(mine, mode=0o700)
    return mine
