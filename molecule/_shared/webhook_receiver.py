"""A webhook endpoint for the scenarios' receipt checks: keeps every POSTed body.

    python webhook_receiver.py --dir DIR --port-file FILE --stop-file FILE [--fail-first N]

Listens on 127.0.0.1 (a free port, written to --port-file once it listens). Each POST's
body goes to DIR/<n>.json (n counts every POST from 1) with its headers in DIR/<n>.headers;
the first N POSTs get 503 (to check that the deployer tries again), the others 204. Exits
once --stop-file exists.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--stop-file", type=Path, required=True)
    parser.add_argument("--fail-first", type=int, default=0)
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()
    count = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the http.server API)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                count[0] += 1
                n = count[0]
            (args.dir / f"{n}.json").write_bytes(body)
            (args.dir / f"{n}.headers").write_text(json.dumps(dict(self.headers.items())))
            status = 503 if n <= args.fail_first else 204
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.timeout = 0.5
    tmp = args.port_file.with_suffix(".tmp")
    tmp.write_text(str(server.server_address[1]))
    os.replace(tmp, args.port_file)
    while not args.stop_file.exists():
        server.handle_request()
    server.server_close()


if __name__ == "__main__":
    main()
