"""A real local HTTP server standing in for a CRM: records requests, answers as scripted."""

import json
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from .fakes.server import ServedInThread

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@dataclass
class Answer:
    """One scripted reply; `delay` makes the server hang before answering."""

    status: int = 200
    headers: dict = field(default_factory=dict)
    delay: float = 0.0
    body: bytes = b'{"ok":true}'


class FakeCrm(ServedInThread):
    """Serves on 127.0.0.1; `script` answers requests in turn, then `default` answers.

    With `tls`, a server-side SSL context, it serves HTTPS as `localhost`.
    """

    def __init__(self, secret: str | None = SECRET, tls: ssl.SSLContext | None = None):
        self.script: deque[Answer] = deque()
        self.default = Answer()
        self.received: list[dict] = []
        self.started = threading.Event()  # set as soon as a request arrives
        self.verifier = Webhook(secret) if secret else None
        self.lock = threading.Lock()
        server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        server.daemon_threads = True
        if tls:
            server.socket = tls.wrap_socket(server.socket, server_side=True)
        super().__init__(server)
        port = server.server_address[1]
        self.url = f"https://localhost:{port}/events" if tls else f"http://127.0.0.1:{port}/events"

    def answer(self, *answers: Answer):
        self.script.extend(answers)

    def delivered_ids(self) -> list[str]:
        """webhook-id of each request answered 2xx, in order."""
        with self.lock:
            return [r["headers"]["webhook-id"] for r in self.received if r["status"] < 300]

    def _next_answer(self) -> Answer:
        with self.lock:
            return self.script.popleft() if self.script else self.default

    def _handler(self):
        crm = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real CRM API
            # Headers and body go out as separate writes; without this, Nagle's algorithm and
            # delayed ACKs stall every keep-alive response by 40 ms.
            disable_nagle_algorithm = True

            def do_HEAD(self):
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {key.lower(): value for key, value in self.headers.items()}
                crm.started.set()
                answer = crm._next_answer()
                verified = None
                if crm.verifier:
                    try:
                        crm.verifier.verify(body, headers)
                        verified = True
                    except WebhookVerificationError:
                        verified = False
                if answer.delay:
                    time.sleep(answer.delay)
                record = {"headers": headers, "event": json.loads(body), "status": answer.status,
                          "verified": verified, "at": time.time(), "path": self.path}
                # Recorded before answering, so a client that has its answer sees the record.
                with crm.lock:
                    crm.received.append(record)
                # 204 and 304 carry no body; one sent anyway would be read as the start of
                # the next answer on this kept-alive connection.
                body = b"" if answer.status in (204, 304) else answer.body
                try:
                    self.send_response(answer.status)
                    for key, value in answer.headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    record["status"] = 599  # the client had given up

            def log_message(self, *args):
                pass

        return Handler
