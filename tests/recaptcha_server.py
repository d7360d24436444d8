"""A local stand-in for the reCAPTCHA verification service: a real HTTP server on 127.0.0.1
(http.server in a thread) that answers ``success`` only for one known answer token and keeps
every form it was posted, so tests see the secret and client address that were sent."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

GOOD_ANSWER = "03AGdBq2-the-right-answer"


class VerifyServer:
    def __init__(self, answer: str = GOOD_ANSWER):
        self.answer = answer
        self.requests: list[dict[str, str]] = []
        self.reply_status = 200  # set to 500 to play a broken service
        self.raw_reply: bytes | None = None  # set to answer this body (not JSON) instead
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                server.requests.append(form)
                ok = form.get("response") == server.answer and bool(form.get("secret"))
                body = {"success": True, "hostname": "testserver"} if ok else {
                    "success": False, "error-codes": ["invalid-input-response"]
                }
                data = json.dumps(body).encode() if server.raw_reply is None else server.raw_reply
                self.send_response(server.reply_status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):  # keep the test output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/recaptcha/api/siteverify"

    def start(self) -> VerifyServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
