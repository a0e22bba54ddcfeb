#!/usr/bin/env python3
"""Helpers of scripts/check-http-api.sh (run with the venv's python: PyYAML and jsonschema_rs
come with schemathesis).

    helper.py ports N                     N free loopback ports; the first's +4000 (NATS
                                          monitor) and the second's +1 (etcd peer) free too
    helper.py seed SRC DST SIM_PORT       SRC (deploy/dev/rules.yaml) with the carrier
                                          simulator moved to 127.0.0.1:SIM_PORT, to DST
    helper.py wait-api URL USER:PASS S    wait (at most S seconds) until the HTTP API at URL
                                          answers an authenticated lookup with JSON
    helper.py children PID                the pids of PID's children
    helper.py cases URL USER:PASS SPEC    fixed cases schemathesis does not make: one line
                                          per case, exit 1 if any failed
    helper.py har-summary HAR             how many requests a HAR holds, by HTTP status
"""
import base64
import json
import random
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def cmd_ports(n):
    def free(port):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return True
            except OSError:
                return False

    chosen = []
    for _ in range(10000):
        if len(chosen) == n:
            break
        p = random.randint(20000, 40000)
        taken = {q for c in chosen for q in (c, c + 1, c + 4000)}
        if {p, p + 1, p + 4000} & taken or not free(p):
            continue
        if not chosen and not free(p + 4000):
            continue
        if len(chosen) == 1 and not free(p + 1):
            continue
        chosen.append(p)
    else:
        raise SystemExit("no free ports")
    print(" ".join(map(str, chosen)))
    return 0


def cmd_seed(src, dst, sim_port):
    import yaml

    seed = yaml.safe_load(Path(src).read_text())
    old = seed["simulator"]["listen"]
    old_port = int(old.rsplit(":", 1)[1])
    seed["simulator"]["listen"] = f"127.0.0.1:{sim_port}"
    for carrier in seed.get("carriers", []):
        if int(carrier.get("port", 0)) == old_port:
            carrier["host"] = "127.0.0.1"
            carrier["port"] = int(sim_port)
    # The demo webhook receiver listens on a fixed port: not needed to check the HTTP API.
    seed.pop("webhook_sink", None)
    for account in seed.get("accounts", []):
        account.pop("webhook", None)
    Path(dst).write_text(yaml.safe_dump(seed, sort_keys=False))
    return 0


def request(method, url, auth=None, body=None, headers=None):
    """(status, headers, body bytes) of one request; never raises on HTTP errors."""
    req = urllib.request.Request(url, data=body, method=method)
    for name, value in (headers or {}).items():
        req.add_header(name, value)
    if auth is not None:
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def cmd_wait_api(url, auth, timeout):
    deadline = time.time() + float(timeout)
    while True:
        try:
            status, headers, _ = request("GET", f"{url}/v1/messages/startup-probe", auth)
            if status == 404 and headers.get("content-type", "").startswith("application/json"):
                return 0
        except (urllib.error.URLError, OSError):
            pass
        if time.time() >= deadline:
            return 1
        time.sleep(0.3)


def cmd_children(pid):
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == str(pid):
            print(stat.parent.name)
    return 0


class Cases:
    """Fixed requests and what the docs say they get; each body is checked against the
    response schema docs/openapi.yaml gives for its status."""

    def __init__(self, url, auth, spec):
        import yaml

        self.url = url
        self.auth = auth
        self.spec = yaml.safe_load(Path(spec).read_text())
        self.failed = 0

    def schema_of(self, path, method, status):
        response = self.spec["paths"][path][method]["responses"][str(status)]
        if "$ref" in response:
            response = self.resolve(response["$ref"])
        schema = response["content"]["application/json"]["schema"]
        # Inline every $ref (the spec has no recursive schemas) and turn OpenAPI 3.0's
        # `nullable` into JSON Schema.
        return self.inline(schema)

    def resolve(self, ref):
        node = self.spec
        for part in ref.lstrip("#/").split("/"):
            node = node[part]
        return node

    def inline(self, node):
        if isinstance(node, list):
            return [self.inline(n) for n in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            return self.inline(self.resolve(node["$ref"]))
        out = {k: self.inline(v) for k, v in node.items() if k not in ("nullable", "example")}
        if node.get("nullable"):
            out = {"anyOf": [out, {"type": "null"}]}
        return out

    def check(self, name, problems):
        if problems:
            self.failed += 1
            print(f"FAILED  {name}")
            for p in problems:
                print(f"          {p}")
        else:
            print(f"ok      {name}")

    def expect(self, name, method, path, template, status, body=None, headers=None, auth=True,
               want_headers=None, want_status_name=None, response=None):
        """Sends one request (unless its `response` is given); returns the parsed body (or
        None) after checking it."""
        import jsonschema_rs

        problems = []
        got, got_headers, raw = response or request(
            method, self.url + path, self.auth if auth else None, body, headers
        )
        parsed = None
        if got != status:
            problems.append(f"{method} {path}: HTTP {got}, want {status}: {raw[:300]!r}")
        ctype = got_headers.get("content-type", "")
        if not ctype.startswith("application/json"):
            problems.append(f"content-type {ctype!r}, want application/json")
        try:
            parsed = json.loads(raw)
        except ValueError:
            problems.append(f"body is not JSON: {raw[:300]!r}")
        if parsed is not None and got == status:
            try:
                schema = self.schema_of(template, method.lower(), status)
            except KeyError:
                problems.append(f"{method} {template}: HTTP {status} is not documented")
                schema = {}
            for error in jsonschema_rs.validator_for(schema).iter_errors(parsed):
                problems.append(f"body does not match the schema: {error}")
            if want_status_name and (parsed.get("error") or {}).get("status") != want_status_name:
                problems.append(f"error.status {parsed.get('error')}, want {want_status_name}")
        for header, prefix in (want_headers or {}).items():
            value = got_headers.get(header)
            if value is None or not value.startswith(prefix):
                problems.append(f"header {header}: {value!r}, want {prefix!r}...")
        self.check(name, problems)
        return parsed

    def run(self):
        msgs = "/v1/messages"
        one = "/v1/messages/{id}"
        ok_body = json.dumps({"from": "Herald", "to": "+447700900001", "text": "Hello"}).encode()
        self.expect("401 without credentials", "POST", msgs, msgs, 401, ok_body, auth=False,
                    want_headers={"WWW-Authenticate": 'Basic realm="herald"'},
                    want_status_name="ESME_RINVSYSID")
        self.expect("401 with a Bearer token", "GET", "/v1/messages/x", one, 401,
                    headers={"Authorization": "Bearer abc"}, auth=False,
                    want_headers={"WWW-Authenticate": 'Basic realm="herald"'})
        self.expect("400 on a body that is not JSON", "POST", msgs, msgs, 400, b"not json",
                    want_status_name="ESME_RSUBMITFAIL")
        self.expect("400 on an unknown field", "POST", msgs, msgs, 400,
                    json.dumps({"to": "+447700900001", "text": "hi", "colour": "red"}).encode(),
                    want_status_name="ESME_RSUBMITFAIL")
        self.expect("400 on 101 destinations", "POST", msgs, msgs, 400,
                    json.dumps({"to": [f"+4477009{i:05}" for i in range(101)], "text": "hi"}).encode(),
                    want_status_name="ESME_RINVNUMDESTS")
        self.expect("413 on 256 segments", "POST", msgs, msgs, 413,
                    json.dumps({"to": "+447700900001", "text": "a" * (153 * 255 + 1)}).encode(),
                    want_status_name="ESME_RINVNUMMSGS")
        self.expect("413 on a body over 256 KiB", "POST", msgs, msgs, 413,
                    json.dumps({"to": "+447700900001", "text": "a" * (256 * 1024)}).encode(),
                    want_status_name="ESME_RINVCMDLEN")
        self.expect("400 on a bad Idempotency-Key", "POST", msgs, msgs, 400, ok_body,
                    headers={"Idempotency-Key": "with space"},
                    want_status_name="ESME_RSUBMITFAIL")
        # 202, then the status of its first id once a router took it.
        key = f"check-http-api-{time.time_ns()}"
        accepted = self.expect("202 for two destinations", "POST", msgs, msgs, 202, json.dumps(
            {"from": "Herald", "to": ["+447700900001", "+447700900002"], "text": "Hello"}).encode(),
            headers={"Idempotency-Key": key})
        self.expect("202 replayed for the same Idempotency-Key", "POST", msgs, msgs, 202, json.dumps(
            {"from": "Herald", "to": ["+447700900001", "+447700900002"], "text": "Hello"}).encode(),
            headers={"Idempotency-Key": key}, want_headers={"Idempotency-Replayed": "true"})
        self.expect("422 for the same key with another body", "POST", msgs, msgs, 422, ok_body,
                    headers={"Idempotency-Key": key}, want_status_name="IDEMPOTENCY_KEY_REUSED")
        self.expect("207 for one good and one bad destination", "POST", msgs, msgs, 207, json.dumps(
            {"to": ["+447700900001", "not a number"], "text": "Hello"}).encode())
        self.expect("400 for one bad destination", "POST", msgs, msgs, 400, json.dumps(
            {"to": "not a number", "text": "Hello"}).encode(), want_status_name="ESME_RINVDSTADR")
        if accepted and accepted.get("messages"):
            first = accepted["messages"][0]["ids"][0]
            deadline = time.time() + 10
            while True:
                got, _, _ = request("GET", f"{self.url}/v1/messages/{first}", self.auth)
                if got == 200 or time.time() >= deadline:
                    break
                time.sleep(0.2)
            self.expect("200 for the status of an accepted id", "GET", f"/v1/messages/{first}",
                        one, 200)
        self.expect("404 for an unknown id", "GET", "/v1/messages/01NOSUCHMESSAGE", one, 404,
                    want_status_name="ESME_RINVMSGID")
        self.expect("404 in JSON for an id that is not UTF-8", "GET", "/v1/messages/%FF", one,
                    404, want_status_name="ESME_RINVMSGID")
        self.expect("400 for a sender that is + alone", "POST", msgs, msgs, 400, json.dumps(
            {"from": "+", "to": "+447700900001", "text": "Hello"}).encode(),
                    want_status_name="ESME_RINVSRCADR")
        # Last, as it spends the account's rate: 100 destinations of 255 segments take what
        # is left of it (207: the first few accepted, the rest ESME_RTHROTTLED), so one more
        # destination of 255 segments right after is 429. Tried a few times, in case the
        # rate refilled in between on a slow machine.
        longest = "a" * (153 * 255)
        drain = json.dumps({"to": [f"+4477009{i:05}" for i in range(100)], "text": longest}).encode()
        one_more = json.dumps({"to": "+447700900001", "text": longest}).encode()
        for _ in range(5):
            request("POST", self.url + msgs, self.auth, drain)
            answer = request("POST", self.url + msgs, self.auth, one_more)
            if answer[0] == 429:
                break
        self.expect("429 over the account's rate", "POST", msgs, msgs, 429, response=answer,
                    want_headers={"Retry-After": "1"}, want_status_name="ESME_RTHROTTLED")
        return 1 if self.failed else 0


def cmd_har_summary(path):
    import collections

    entries = json.loads(Path(path).read_text())["log"]["entries"]
    statuses = collections.Counter(e["response"]["status"] for e in entries)
    by_status = " ".join(f"{code}x{n}" for code, n in sorted(statuses.items()))
    print(f"{len(entries)} requests ({by_status})")
    return 0


def main(argv):
    if not argv:
        print(__doc__)
        return 2
    cmd, args = argv[0], argv[1:]
    if cmd == "ports":
        return cmd_ports(int(args[0]))
    if cmd == "seed":
        return cmd_seed(*args)
    if cmd == "wait-api":
        return cmd_wait_api(*args)
    if cmd == "children":
        return cmd_children(args[0])
    if cmd == "har-summary":
        return cmd_har_summary(args[0])
    if cmd == "cases":
        return Cases(*args).run()
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
