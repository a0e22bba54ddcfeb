#!/usr/bin/env python3
"""Third-party ESME for Herald's interop tests, built on PyPI `smpplib` (pinned in
scripts/install-deps.sh).

It binds, submits --count messages (registered_delivery set, GSM 03.38 default
alphabet, data_coding 0), optionally one long message split into UDH-concatenated
parts by smpplib's own `smpplib.gsm.make_parts`, answers every deliver_sm with a
deliver_sm_resp, waits until --expect-deliver deliver_sm have arrived, sends one
enquire_link, stays bound --linger seconds more (default 0), unbinds and prints ONE
JSON object on stdout:

  {"bound": true, "bind_status": 0, "system_id": "...",
   "submitted": [{"seq": 2, "status": 0, "message_id": "...", "part": null}, ...],
   "delivered": [{"seq": 1, "source_addr": "...", "destination_addr": "...",
                  "esm_class": 4, "data_coding": 0, "short_message_hex": "...",
                  "receipted_message_id": "...", "message_state": 2}, ...],
   "enquire_link_ok": true, "unbound": true, "elapsed_ms": 42}

On failure the same object carries "error": "..." and the exit code is non-zero:
  0 everything went as asked
  1 an expectation was not met (missing responses/deliveries, a submit_sm_resp
    with an error status unless --allow-submit-errors, timeout, peer unbind)
  2 the bind was rejected (bind_status holds the command_status, e.g. 14 = 0x0E)
  3 could not connect / protocol or usage error

Logging from smpplib goes to stderr (--verbose for PDU hex dumps). The process
never outlives --timeout by more than ~0.5 s: a hard timer aborts it.
"""

import argparse
import json
import logging
import signal
import socket
import sys
import time

import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.gsm
import smpplib.smpp

DEFAULT_LONG_TEXT = (
    "Herald interop long message. "
    "This text is longer than one SMS so smpplib splits it into parts that carry "
    "a concatenation UDH (IEI 0x00, 8-bit reference). Each part is submitted as "
    "its own submit_sm with esm_class 0x40 and registered_delivery set, so every "
    "part gets its own message_id and its own delivery receipt. END"
)


class HardTimeout(Exception):
    pass


def _on_alarm(_signum, _frame):
    raise HardTimeout()


def _s(value):
    """smpplib returns C-octet strings as bytes; JSON wants str."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return value


def _hex(value):
    if value is None:
        return None
    if isinstance(value, str):
        value = value.encode("latin-1")
    return value.hex()


class Session:
    def __init__(self, args):
        self.args = args
        self.start = time.monotonic()
        self.hard_deadline = self.start + args.timeout
        # Keep some of the budget for a clean unbind even when we time out waiting.
        self.soft_deadline = self.hard_deadline - min(2.0, args.timeout * 0.2)
        self.result = {
            "bound": False,
            "bind_status": None,
            "system_id": None,
            "submitted": [],
            "delivered": [],
            "enquire_link_ok": False,
            "unbound": False,
        }
        self.pending = {}  # sequence -> entry in result["submitted"]
        self.enquire_seq = None
        self.unbind_seq = None
        self.peer_unbound = False
        self.client = None

    # ------------------------------------------------------------------ helpers
    def remaining(self, deadline):
        return deadline - time.monotonic()

    def read_pdu(self, deadline):
        """Read one PDU, or return None when the deadline passes."""
        left = self.remaining(deadline)
        if left <= 0:
            return None
        self.client._socket.settimeout(max(left, 0.01))
        try:
            return self.client.read_pdu()
        except socket.timeout:
            return None

    def dispatch(self, pdu):
        cmd = pdu.command
        if cmd == "submit_sm_resp":
            entry = self.pending.pop(pdu.sequence, None)
            if entry is None:
                raise ProtocolError("submit_sm_resp with unknown sequence %d" % pdu.sequence)
            entry["status"] = pdu.status
            entry["message_id"] = _s(getattr(pdu, "message_id", None))
        elif cmd == "deliver_sm":
            self.result["delivered"].append(
                {
                    "seq": pdu.sequence,
                    "source_addr": _s(pdu.source_addr),
                    "destination_addr": _s(pdu.destination_addr),
                    "esm_class": pdu.esm_class,
                    "data_coding": pdu.data_coding,
                    "short_message_hex": _hex(pdu.short_message) or "",
                    "message_payload_hex": _hex(getattr(pdu, "message_payload", None)),
                    "receipted_message_id": _s(getattr(pdu, "receipted_message_id", None)),
                    "message_state": getattr(pdu, "message_state", None),
                }
            )
            resp = smpplib.smpp.make_pdu("deliver_sm_resp", client=self.client)
            resp.sequence = pdu.sequence  # make_pdu cannot take it as a kwarg
            self.client.send_pdu(resp)
        elif cmd == "enquire_link_resp":
            if pdu.sequence == self.enquire_seq:
                self.result["enquire_link_ok"] = pdu.status == 0
        elif cmd == "enquire_link":
            resp = smpplib.smpp.make_pdu("enquire_link_resp", client=self.client)
            resp.sequence = pdu.sequence
            self.client.send_pdu(resp)
        elif cmd == "unbind":
            # smpplib's own read_once() does not answer an unbind; we do.
            resp = smpplib.smpp.make_pdu("unbind_resp", client=self.client)
            resp.sequence = pdu.sequence
            self.client.send_pdu(resp)
            self.peer_unbound = True
        elif cmd == "unbind_resp":
            if pdu.sequence == self.unbind_seq:
                self.result["unbound"] = pdu.status == 0
        elif cmd == "generic_nack":
            raise ProtocolError("generic_nack status %d for sequence %d" % (pdu.status, pdu.sequence))
        else:
            logging.getLogger("esme").warning("ignoring %s", cmd)

    # ------------------------------------------------------------------ phases
    def run(self):
        a = self.args
        self.client = smpplib.client.Client(
            a.host,
            a.port,
            timeout=max(self.remaining(self.soft_deadline), 0.1),
            allow_unknown_opt_params=True,
        )
        try:
            self.client.connect()
        except smpplib.exceptions.ConnectionError as e:
            raise ConnectFailed("connect %s:%d failed: %s" % (a.host, a.port, e))

        bind = {
            "trx": self.client.bind_transceiver,
            "tx": self.client.bind_transmitter,
            "rx": self.client.bind_receiver,
        }[a.bind]
        try:
            resp = bind(system_id=a.system_id, password=a.password, system_type=a.system_type)
        except smpplib.exceptions.PDUError as e:
            status = e.args[1] if len(e.args) > 1 else None
            self.result["bind_status"] = status
            raise BindRejected("bind_%s rejected: %s" % (a.bind, e.args[0]))
        except smpplib.exceptions.ConnectionError:
            # smpplib turns a socket timeout into a bare ConnectionError.
            if self.remaining(self.soft_deadline) <= 0.05:
                raise TimedOut("timeout waiting for the bind response")
            raise ConnectFailed("connection lost waiting for the bind response")
        self.result["bound"] = True
        self.result["bind_status"] = resp.status
        self.result["system_id"] = _s(resp.system_id)

        # Submit everything first (windowed), then collect the responses.
        for i in range(1, a.count + 1):
            self.submit(a.text.replace("{i}", str(i)), None)
        if a.long:
            parts, coding, esm = smpplib.gsm.make_parts(a.long_text)
            for n, part in enumerate(parts, start=1):
                self.submit_part(part, coding, esm, "%d/%d" % (n, len(parts)))

        pdu = smpplib.smpp.make_pdu("enquire_link", client=self.client)
        self.client.send_pdu(pdu)
        self.enquire_seq = pdu.sequence

        while not self.done_waiting():
            pdu = self.read_pdu(self.soft_deadline)
            if pdu is None:
                break
            self.dispatch(pdu)
            if self.peer_unbound:
                break

        # --linger: stay bound a while longer (answering what comes), e.g. so that a check
        # can see the session listed; never past the soft deadline.
        if a.linger > 0 and not self.peer_unbound and self.done_waiting():
            linger_until = min(time.monotonic() + a.linger, self.soft_deadline)
            while not self.peer_unbound:
                pdu = self.read_pdu(linger_until)
                if pdu is None:
                    break
                self.dispatch(pdu)

        if not self.peer_unbound:
            self.unbind()

    def submit(self, text, part):
        parts, coding, esm = smpplib.gsm.make_parts(text)
        for n, encoded in enumerate(parts, start=1):
            label = part if len(parts) == 1 else "%d/%d" % (n, len(parts))
            self.submit_part(encoded, coding, esm, label)

    def submit_part(self, encoded, coding, esm, label):
        a = self.args
        pdu = self.client.send_message(
            source_addr_ton=a.source_ton,
            source_addr_npi=a.source_npi,
            source_addr=a.source_addr,
            dest_addr_ton=a.dest_ton,
            dest_addr_npi=a.dest_npi,
            destination_addr=a.dest_addr,
            short_message=encoded,
            data_coding=coding,
            esm_class=esm,
            registered_delivery=a.registered_delivery,
        )
        entry = {
            "seq": pdu.sequence,
            "status": None,
            "message_id": None,
            "part": label,
            "esm_class": esm,
            "data_coding": coding,
            "short_message_hex": encoded.hex(),
        }
        self.result["submitted"].append(entry)
        self.pending[pdu.sequence] = entry

    def done_waiting(self):
        return (
            not self.pending
            and len(self.result["delivered"]) >= self.args.expect_deliver
            and self.result["enquire_link_ok"]
        )

    def unbind(self):
        pdu = smpplib.smpp.make_pdu("unbind", client=self.client)
        self.client.send_pdu(pdu)
        self.unbind_seq = pdu.sequence
        # deliver_sm may still arrive before the unbind_resp: answer and record them.
        while not self.result["unbound"]:
            pdu = self.read_pdu(self.hard_deadline)
            if pdu is None:
                break
            self.dispatch(pdu)

    def close(self):
        if self.client is not None and self.client._socket is not None:
            try:
                self.client._socket.close()
            except OSError:
                pass
            self.client._socket = None
            self.client.state = smpplib.consts.SMPP_CLIENT_STATE_CLOSED

    def verdict(self):
        """Error string when something did not go as asked, else None."""
        r = self.result
        if not r["bound"]:
            return "not bound"
        if self.peer_unbound:
            return "peer sent unbind"
        if self.pending:
            return "%d submit_sm without response" % len(self.pending)
        bad = [s for s in r["submitted"] if s["status"] != 0]
        if bad and not self.args.allow_submit_errors:
            return "%d submit_sm_resp with error status (first: 0x%08X)" % (len(bad), bad[0]["status"])
        if len(r["delivered"]) < self.args.expect_deliver:
            return "got %d deliver_sm, expected %d" % (len(r["delivered"]), self.args.expect_deliver)
        if not r["enquire_link_ok"]:
            return "no enquire_link_resp"
        if not r["unbound"]:
            return "no unbind_resp"
        return None


class ProtocolError(Exception):
    pass


class ConnectFailed(Exception):
    pass


class BindRejected(Exception):
    pass


class TimedOut(Exception):
    pass


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--system-id", required=True)
    p.add_argument("--password", default="")
    p.add_argument("--system-type", default="")
    p.add_argument("--bind", choices=("trx", "tx", "rx"), default="trx")
    p.add_argument("--count", type=int, default=1, help="number of submit_sm (default 1)")
    p.add_argument("--expect-deliver", type=int, default=0, help="wait for this many deliver_sm")
    p.add_argument("--timeout", type=float, default=10.0, help="overall time limit, seconds")
    p.add_argument("--text", default="Herald interop {i}", help="message text; {i} = 1..count")
    p.add_argument("--long", action="store_true", help="also submit one long, UDH-concatenated message")
    p.add_argument("--long-text", default=DEFAULT_LONG_TEXT)
    p.add_argument("--source-addr", default="12345")
    p.add_argument("--source-ton", type=int, default=1)
    p.add_argument("--source-npi", type=int, default=1)
    p.add_argument("--dest-addr", default="491700000001")
    p.add_argument("--dest-ton", type=int, default=1)
    p.add_argument("--dest-npi", type=int, default=1)
    p.add_argument("--registered-delivery", type=int, default=1)
    p.add_argument("--allow-submit-errors", action="store_true",
                   help="a submit_sm_resp with non-zero status is not a failure")
    p.add_argument("--linger", type=float, default=0.0,
                   help="seconds to stay bound after everything arrived, before the unbind")
    p.add_argument("--verbose", action="store_true", help="smpplib debug log (PDU hex) on stderr")
    args = p.parse_args(argv)
    if args.bind == "rx" and (args.count or args.long):
        p.error("--bind rx cannot submit: use --count 0 and no --long")
    if args.timeout <= 0:
        p.error("--timeout must be positive")
    return args


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="esme_smpplib %(levelname)s %(name)s: %(message)s",
    )
    session = Session(args)
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, args.timeout + 0.25)
    code, error = 0, None
    try:
        session.run()
        error = session.verdict()
        code = 1 if error else 0
    except HardTimeout:
        code, error = 1, "hard timeout after %.1fs" % args.timeout
    except TimedOut as e:
        code, error = 1, str(e)
    except BindRejected as e:
        code, error = 2, str(e)
    except ConnectFailed as e:
        code, error = 3, str(e)
    except (ProtocolError, smpplib.exceptions.PDUError, smpplib.exceptions.UnknownCommandError) as e:
        code, error = 3, "protocol error: %s" % e
    except (smpplib.exceptions.ConnectionError, OSError) as e:
        code, error = 3, "connection error: %r" % (e,)
    except Exception as e:  # a PDU smpplib cannot parse, etc.
        code, error = 3, "unexpected %s: %s" % (type(e).__name__, e)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        session.close()
    out = dict(session.result)
    out["elapsed_ms"] = int((time.monotonic() - session.start) * 1000)
    if error:
        out["error"] = error
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
