"""Serves a fake vendor's Flask app on 127.0.0.1 in a thread, as a real HTTP server."""

import argparse
import threading

from werkzeug.serving import make_server


class ServedInThread:
    """A context manager that runs `server` (any socketserver) in a daemon thread."""

    def __init__(self, server):
        self.server = server
        # A short poll interval makes shutdown, once per test, quick.
        self.thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class Served(ServedInThread):
    """Base for vendor fakes: `build_app()` makes the Flask app, served on 127.0.0.1."""

    def __init__(self, port: int = 0):
        super().__init__(make_server("127.0.0.1", port, self.build_app(), threaded=True))
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def build_app(self):
        raise NotImplementedError


def run_from_command_line(fake_class, description: str) -> None:
    """`python -m tests.fakes.<vendor> --port N`: serve until interrupted, for demo runs."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=0)
    port = parser.parse_args().port
    with fake_class(port=port) as fake:
        print(f"{description} at {fake.url} (state at {fake.url}/_fake/state)", flush=True)
        try:
            fake.thread.join()
        except KeyboardInterrupt:
            pass
