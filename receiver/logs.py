"""Logging for the receiver's own processes: one line per record on standard output."""

import logging
import os
import sys


def configure_logging() -> None:
    """Send `receiver.*` logs to stdout at RECEIVER_LOG_LEVEL (INFO), where platforms collect them."""
    logger = logging.getLogger("receiver")
    if logger.handlers:
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(os.environ.get("RECEIVER_LOG_LEVEL", "INFO").upper())
