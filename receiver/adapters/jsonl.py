"""The `jsonl` adapter: appends each normalized event as one JSON line to a file."""

import fcntl
import os

from ..jsontext import dump_json
from .base import Adapter, Delivered, RetryLater


class JsonlAdapter(Adapter):
    """Appends to `RECEIVER_JSONL_PATH`; several processes may append to the same file."""

    def __init__(self, settings):
        super().__init__(settings)
        self.path = settings.jsonl_path

    def deliver(self, event: dict):
        line = (dump_json(event) + "\n").encode("utf-8")
        try:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        except OSError as error:
            return RetryLater(f"cannot open {self.path}: {error.strerror}")
        try:
            # The lock keeps a long line from interleaving with another process's line.
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            os.write(descriptor, line)
            os.fsync(descriptor)
        except OSError as error:
            return RetryLater(f"cannot write {self.path}: {error.strerror}")
        finally:
            os.close(descriptor)
        return Delivered()

    def check(self) -> str:
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.access(directory, os.W_OK):
            raise OSError(f"cannot write in {directory}")
        return f"{self.path} is writable"
