"""Structured logs: one JSON object per line on standard output, where platforms collect them.

Lines carry ids (event, conversation, delivery), adapters, outcomes and durations; never
tokens, secrets, or a contact's name, email or phone.
"""

import json
import logging
import os
import sys
import time

from .config import LOG_FORMATS, LOG_LEVELS, ConfigError, read_choice


class JsonFormatter(logging.Formatter):
    """A log record as one JSON line: time, level, logger, message and the record's `fields`."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                    + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging() -> None:
    """Send `receiver.*` logs to stdout at RECEIVER_LOG_LEVEL; RECEIVER_LOG_FORMAT=text for plain lines."""
    logger = logging.getLogger("receiver")
    if logger.handlers:
        return
    skip_unused_record_facts()
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(TEXT_FORMAT) if log_format() == "text"
                         else JsonFormatter())
    logger.addHandler(handler)
    logger.propagate = False  # the receiver's lines are written here, once, whatever else logs
    logger.setLevel(log_level())


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def skip_unused_record_facts() -> None:
    """Stop logging from looking up what no line of the receiver's formats shows.

    The calling function's file and line (a walk up the stack), and the thread's and
    process's names, as the logging HOWTO's "Optimization" section describes: under gevent
    each webhook request runs in a greenlet of its own, where finding them cost more than
    formatting the whole line.
    """
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def log_level() -> str:
    """RECEIVER_LOG_LEVEL as checked at start (INFO when unset or not one of the levels)."""
    return _setting("RECEIVER_LOG_LEVEL", LOG_LEVELS, "INFO")


def log_format() -> str:
    """RECEIVER_LOG_FORMAT as checked at start: json or text."""
    return _setting("RECEIVER_LOG_FORMAT", LOG_FORMATS, "json")


def _setting(name: str, choices: tuple[str, ...], default: str) -> str:
    try:
        return read_choice(os.environ, name, choices, default)
    except ConfigError:  # the app's start says so, in one line; logging must not fail first
        return default


def fields(**values) -> dict:
    """`extra=` for a structured line; None values are left out."""
    return {"fields": {key: value for key, value in values.items() if value is not None}}
