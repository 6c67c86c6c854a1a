"""The `jsonl` adapter: appends each normalized event as one JSON line to a file."""

import fcntl
import os
from dataclasses import dataclass

from ..config import read_required
from ..jsontext import dump_json
from .base import Adapter, Delivered, RetryLater

# The events hold personal data: only the service's own user may read the file.
FILE_MODE = 0o600


def write_all(descriptor: int, data: bytes) -> None:
    """Write every byte of `data`; a full disk makes `os.write` write only part of it."""
    view = memoryview(data)
    while view:
        written = os.write(descriptor, view)
        if written == 0:
            raise OSError(0, "nothing written")
        view = view[written:]


def append_line(descriptor: int, line: bytes) -> None:
    """Append `line` whole and on disk, or leave the file as it was and raise OSError."""
    # The lock keeps a long line from interleaving with another process's line, and keeps
    # the end of the file where this line starts until it is written or cut off again.
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    start = os.lseek(descriptor, 0, os.SEEK_END)
    if start and os.pread(descriptor, 1, start - 1) != b"\n":
        # A writer killed mid-line left a stub: start on a line of our own, not on the stub.
        line = b"\n" + line
    try:
        write_all(descriptor, line)
        os.fsync(descriptor)
    except OSError:
        # A line cut short would be recorded as not delivered, and the next one appended
        # to its stub: take back what was written of it.
        os.ftruncate(descriptor, start)
        raise


@dataclass(frozen=True)
class JsonlSettings:
    """The file the `jsonl` adapter appends to, from RECEIVER_JSONL_PATH."""

    path: str

    @classmethod
    def from_environ(cls, environ) -> "JsonlSettings":
        return cls(path=read_required(environ, "RECEIVER_JSONL_PATH", "jsonl"))


class JsonlAdapter(Adapter):
    """Appends to `RECEIVER_JSONL_PATH`; several processes may append to the same file.

    Each line is written whole or not at all: on a write error (a full disk) the file is
    cut back to where the line started and the delivery is retried later.
    """

    settings_class = JsonlSettings

    def __init__(self, settings, config: JsonlSettings | None = None):
        super().__init__(settings, config)
        self.path = self.config.path

    def deliver(self, event: dict):
        line = (dump_json(event) + "\n").encode("utf-8")
        try:
            descriptor = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, FILE_MODE)
        except OSError as error:
            return RetryLater(f"cannot open {self.path}: {error.strerror}")
        try:
            append_line(descriptor, line)
        except OSError as error:
            return RetryLater(f"cannot write {self.path}: {error.strerror or error}")
        finally:
            os.close(descriptor)
        return Delivered()

    def check(self) -> str:
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.access(directory, os.W_OK):
            raise OSError(f"cannot write in {directory}")
        return f"{self.path} is writable"
