#!/usr/bin/env python3
"""A webhook receiver for Herald's tests: verifies every delivery with the Standard
Webhooks reference library (PyPI `standardwebhooks`), not with Herald's code.

    webhook_receiver.py SECRET [SECRET...]

Listens on 127.0.0.1 on a free port and prints `listening <port>` first. For each POST it
verifies the signature against any of the secrets and prints one JSON line:
`{"verified": true, "id": "<webhook-id>", "attempt": n, "body": {...}}` (`verified`
false, and `error`, when the signature does not verify). It answers 204 when verified,
401 when not.

Misbehaving on demand: a POST to `/control` with JSON `{"status": 500, "times": 3,
"retry_after": 1, "delay": 0}` makes the next `times` deliveries get `status` (with
`Retry-After` when given) after `delay` seconds; `{"status": 0, "times": 2, "delay": 30}`
holds the next two unanswered for 30 s (a timeout); `{"status": null, "times": 50,
"delay": 0.3}` answers the next 50 normally, each after 0.3 s (a slow endpoint). Refused
deliveries are printed too, with `"answered": <status>`.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SECRETS = [Webhook(secret) for secret in sys.argv[1:]]
LOCK = threading.Lock()
PLAN = {"status": 204, "times": 0, "retry_after": None, "delay": 0}
ATTEMPTS = {}


def emit(record):
    with LOCK:
        print(json.dumps(record), flush=True)


def verify(body, headers):
    last = None
    for webhook in SECRETS:
        try:
            return webhook.verify(body, headers), None
        except WebhookVerificationError as error:
            last = str(error)
    return None, last


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, retry_after=None):
        self.send_response(status)
        if retry_after is not None:
            self.send_header("Retry-After", str(retry_after))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if self.path == "/control":
            with LOCK:
                PLAN.update(json.loads(body))
            self.answer(204)
            return
        headers = {k: v for k, v in self.headers.items()}
        webhook_id = headers.get("webhook-id", "")
        with LOCK:
            ATTEMPTS[webhook_id] = ATTEMPTS.get(webhook_id, 0) + 1
            attempt = ATTEMPTS[webhook_id]
            planned = None
            if PLAN["times"] > 0:
                PLAN["times"] -= 1
                planned = dict(PLAN)
        if planned is not None:
            if planned.get("delay"):
                time.sleep(planned["delay"])
            status = planned.get("status")
            if status:
                emit({"answered": status, "id": webhook_id, "attempt": attempt})
                self.answer(status, planned.get("retry_after"))
                return
            if status == 0:
                self.close_connection = True
                return
        parsed, error = verify(body, headers)
        record = {"verified": parsed is not None, "id": webhook_id, "attempt": attempt}
        if parsed is None:
            record["error"] = error
            emit(record)
            self.answer(401)
            return
        record["body"] = parsed
        emit(record)
        self.answer(204)


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    emit_line = "listening %d" % server.server_address[1]
    with LOCK:
        print(emit_line, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
