"""A real local HTTP server standing in for a CRM that answers slowly: a byte at a time."""

import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .fakes.server import ServedInThread


class TricklingCrm(ServedInThread):
    """Answers every request 200, one byte every `interval` seconds, for at most `seconds`.

    `what` is "body" (the headers at once, then the body a byte at a time), "headers" (the
    status line and headers a byte at a time too) or "flood" (a `flood_bytes` body at once).
    `calls` holds each request's webhook-id (or path) and when it started and ended.
    """

    def __init__(self, what: str = "body", interval: float = 0.25, seconds: float = 12.0,
                 flood_bytes: int = 0):
        self.what, self.interval, self.seconds = what, interval, seconds
        self.flood_bytes = flood_bytes
        self.calls: list[dict] = []
        self.started = threading.Event()  # set as soon as a request arrives
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        server.daemon_threads = True
        super().__init__(server)
        self.url = f"http://127.0.0.1:{server.server_address[1]}"

    def __exit__(self, *exc):
        self.stopping.set()  # ends the trickles still running
        super().__exit__(*exc)

    def in_flight_together(self) -> list[str]:
        """Ids that two requests carried at overlapping times."""
        with self.lock:
            calls = sorted(self.calls, key=lambda call: call["start"])
        overlapping = []
        for n, call in enumerate(calls):
            for later in calls[n + 1:]:
                if later["id"] == call["id"] and later["start"] < (call["end"] or math.inf):
                    overlapping.append(call["id"])
        return overlapping

    def answer(self) -> tuple[bytes, bytes]:
        """The head and body of the answer."""
        size = self.flood_bytes if self.what == "flood" else int(self.seconds / self.interval)
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
        return head.encode(), b" " * size

    def trickle(self, wfile, data: bytes) -> None:
        for n in range(len(data)):
            if self.stopping.wait(self.interval):
                return
            wfile.write(data[n:n + 1])

    def _handler(self):
        crm = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                call = {"id": self.headers.get("webhook-id") or self.path,
                        "start": time.monotonic(), "end": None}
                with crm.lock:
                    crm.calls.append(call)
                crm.started.set()
                head, body = crm.answer()
                try:
                    if crm.what == "headers":
                        crm.trickle(self.wfile, head + body)
                    elif crm.what == "body":
                        self.wfile.write(head)
                        crm.trickle(self.wfile, body)
                    else:
                        self.wfile.write(head + body)
                except OSError:
                    pass  # the client gave up
                finally:
                    # A client that hung up is noticed at the next byte: `end` is at most one
                    # interval late, never early.
                    call["end"] = time.monotonic()
                self.close_connection = True

            do_GET = do_PUT = do_PATCH = do_HEAD = do_POST

            def log_message(self, *args):
                pass

        return Handler
