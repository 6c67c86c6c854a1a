"""The jsonl adapter writes each line whole or not at all, on a full disk too, readable by its user only."""

import errno
import json
import os
import stat
import subprocess

import pytest

from receiver.adapters import Delivered, RetryLater
from receiver.adapters import jsonl
from receiver.adapters.jsonl import JsonlAdapter
from receiver.config import load_settings
from receiver.testing import sample_events


def adapter_for(path) -> JsonlAdapter:
    return JsonlAdapter(load_settings({"ROCKETCHAT_LIVECHAT_TOKEN": "t",
                                       "RECEIVER_ADAPTERS": "jsonl",
                                       "RECEIVER_JSONL_PATH": str(path)}))


def event_of_size(size: int, name: str = "e-livechat-session-close") -> dict:
    """A sample event whose first message is padded to about `size` bytes."""
    event = sample_events()[name]
    event["messages"][0]["text"] = "x" * size
    return event


def lines_of(path) -> list[dict]:
    """Every line of the file, parsed: fails if any is not whole JSON."""
    data = path.read_bytes()
    assert not data or data.endswith(b"\n"), "the file ends inside a line"
    return [json.loads(line) for line in data.splitlines()]


@pytest.fixture
def small_disk(tmp_path):
    """A 256 KiB tmpfs, a real disk that fills up; skipped where mounting is not allowed."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip() or result.returncode}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def test_a_full_disk_leaves_no_torn_line_and_retries_later(small_disk):
    path = small_disk / "events.jsonl"
    adapter = adapter_for(path)
    first = event_of_size(100)
    assert isinstance(adapter.deliver(first), Delivered)
    # About a megabyte, four times what the disk holds: the write stops part way.
    assert isinstance(adapter.deliver(event_of_size(1_000_000)), RetryLater)
    assert lines_of(path) == [first]
    after = event_of_size(100, "e-message-agent")
    assert isinstance(adapter.deliver(after), Delivered)
    assert lines_of(path) == [first, after]


class FaultyOs:
    """The os module, with `write` writing at most `chunk` bytes a call, failing with
    `write_error` once `room` bytes are written, and `fsync` failing with `fsync_error`."""

    def __init__(self, chunk=None, room=None, write_error=errno.ENOSPC, fsync_error=None):
        self.chunk, self.room = chunk, room
        self.write_error, self.fsync_error = write_error, fsync_error
        self.calls = 0

    def __getattr__(self, name):
        return getattr(os, name)

    def write(self, descriptor, data):
        self.calls += 1
        data = bytes(data)[:self.chunk] if self.chunk else bytes(data)
        if self.room is not None:
            if self.room == 0:
                raise OSError(self.write_error, os.strerror(self.write_error))
            data = data[:self.room]
            self.room -= len(data)
        return os.write(descriptor, data)

    def fsync(self, descriptor):
        if self.fsync_error:
            raise OSError(self.fsync_error, os.strerror(self.fsync_error))
        os.fsync(descriptor)


@pytest.mark.parametrize("faults, outcome", [
    (dict(chunk=1000), Delivered),  # short writes only: keep writing until the line is whole
    (dict(chunk=1000, room=5000), RetryLater),  # then the disk is full
    (dict(room=0), RetryLater),  # full before the first byte
    (dict(room=5000, write_error=errno.EIO), RetryLater),
    (dict(fsync_error=errno.EIO), RetryLater),  # written, but not surely on disk
])
def test_faults_leave_whole_lines_only(tmp_path, monkeypatch, faults, outcome):
    path = tmp_path / "events.jsonl"
    adapter = adapter_for(path)
    first = event_of_size(100)
    assert isinstance(adapter.deliver(first), Delivered)
    faulty = FaultyOs(**faults)
    monkeypatch.setattr(jsonl, "os", faulty)
    event = event_of_size(20_000)
    assert isinstance(adapter.deliver(event), outcome)
    assert faulty.calls >= 1
    monkeypatch.undo()
    expected = [first, event] if outcome is Delivered else [first]
    assert lines_of(path) == expected
    # Once the fault is gone the retry appends the line after the whole ones.
    if outcome is RetryLater:
        assert isinstance(adapter.deliver(event), Delivered)
        assert lines_of(path) == [first, event]


def test_a_line_left_torn_by_a_killed_writer_is_not_appended_to(tmp_path):
    path = tmp_path / "events.jsonl"
    first = event_of_size(100)
    assert isinstance(adapter_for(path).deliver(first), Delivered)
    with open(path, "ab") as file:
        file.write(b'{"id":"evt_torn","kind":"chat.clo')  # SIGKILL mid-write
    event = event_of_size(100, "e-message-agent")
    assert isinstance(adapter_for(path).deliver(event), Delivered)
    lines = path.read_bytes().splitlines()
    assert [json.loads(lines[0]), json.loads(lines[-1])] == [first, event]
    assert len(lines) == 3


def test_a_full_disk_reason_names_the_file(tmp_path, monkeypatch):
    path = tmp_path / "events.jsonl"
    adapter = adapter_for(path)
    monkeypatch.setattr(jsonl, "os", FaultyOs(room=10))
    outcome = adapter.deliver(event_of_size(100))
    assert outcome == RetryLater(f"cannot write {path}: No space left on device")


def test_the_file_is_readable_by_its_owner_only(tmp_path):
    previous = os.umask(0o022)  # the usual umask, which leaves files readable by all
    try:
        path = tmp_path / "events.jsonl"
        assert isinstance(adapter_for(path).deliver(event_of_size(10)), Delivered)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
