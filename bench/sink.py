"""A minimal CRM stand-in: accepts POSTed events, counts them by `webhook-id`, prints a summary.

    python bench/sink.py --port 9000 [--log received.jsonl]

Send SIGINT or SIGTERM to stop; it prints how many events arrived and how many were duplicates.
"""

import argparse
import json
import signal
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

received = Counter()
lock = threading.Lock()


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes; without this, Nagle's algorithm and
    # delayed ACKs stall every keep-alive response by 40 ms.
    disable_nagle_algorithm = True
    log_file = None

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        event_id = self.headers.get("webhook-id", "?")
        with lock:
            received[event_id] += 1
            if self.log_file:
                event = json.loads(body)
                self.log_file.write(json.dumps({"id": event_id, "kind": event.get("kind")}) + "\n")
                self.log_file.flush()
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--log", help="append one line per received event to this file")
    args = parser.parse_args()
    Sink.log_file = open(args.log, "a") if args.log else None
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Sink)
    server.daemon_threads = True

    def stop(*_):
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"sink listening on http://127.0.0.1:{args.port}/", flush=True)
    server.serve_forever()
    duplicates = sum(count - 1 for count in received.values())
    print(f"received {sum(received.values())} requests, {len(received)} distinct events, "
          f"{duplicates} duplicates", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
