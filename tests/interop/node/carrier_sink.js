#!/usr/bin/env node
// A third-party carrier for Herald's crash tests, on the npm `smpp` package's server: it
// takes every submit_sm at any rate, answers each with a fresh message id, and keeps the
// delivery receipt of each until Herald answers it with deliver_sm_resp OK, offering it
// again (on any bound session) when a session closes with it unanswered or it is refused,
// as SMSCs do. It counts what reaches it, so a test can tell duplicates apart.
//
//   node carrier_sink.js --port 0 --system-id herald --password secret
//
// stdout: {"event":"listening","port":P} first, then a stats line whenever something
// changed, at most every 200 ms, and one at exit:
//   {"event":"stats","submits":N,"distinct":D,"duplicates":N-D,"receipts_sent":R,
//    "receipts_acked":A,"receipts_pending":P,"receipts_reoffered":O,"binds":B}
// `distinct` counts distinct short_message texts: the test gives every message its own.
// Exits on SIGTERM/SIGINT and on EOF of stdin when stdin is a pipe.
'use strict';

const { parseArgs } = require('node:util');
const fs = require('node:fs');
const smpp = require('smpp');

const USAGE = `usage: node carrier_sink.js [--host 127.0.0.1] [--port 0] [--system-id ID]
                   [--password PW] [--reoffer-ms 1000]`;

let opts;
try {
  opts = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '0' },
      'system-id': { type: 'string' },
      password: { type: 'string' },
      'reoffer-ms': { type: 'string', default: '1000' },
      help: { type: 'boolean', default: false },
    },
  }).values;
} catch (e) {
  process.stderr.write(`${e.message}\n${USAGE}\n`);
  process.exit(2);
}
if (opts.help) {
  process.stdout.write(USAGE + '\n');
  process.exit(0);
}
const PORT = Number(opts.port);
const REOFFER_MS = Number(opts['reoffer-ms']);
if (!Number.isInteger(PORT) || PORT < 0 || PORT > 65535 || !(REOFFER_MS > 0)) {
  process.stderr.write(`bad numeric argument\n${USAGE}\n`);
  process.exit(2);
}
// Raw octets, not the package's lossy text decoding.
delete smpp.commands.submit_sm.params.short_message.filter;

const E = smpp.errors;
const idBase = Math.floor(Math.random() * 0x7fffffff);
let msgCounter = 0;
let sessionCounter = 0;
const sessions = new Set();
const texts = new Map(); // short_message (hex) -> times seen
const stats = {
  submits: 0, receipts_sent: 0, receipts_acked: 0, receipts_reoffered: 0, binds: 0,
};
// message id -> {sub, submitDate, session (in flight on) or null, offers}
const pending = new Map();
let changed = true;

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}
function snapshot() {
  return {
    event: 'stats', ...stats, distinct: texts.size, duplicates: stats.submits - texts.size,
    receipts_pending: pending.size,
  };
}
function smppDate(d) {
  const p = (n) => String(n).padStart(2, '0');
  return p(d.getUTCFullYear() % 100) + p(d.getUTCMonth() + 1) + p(d.getUTCDate()) +
    p(d.getUTCHours()) + p(d.getUTCMinutes());
}

function receiver(prefer) {
  if (prefer && sessions.has(prefer) && (prefer.bound === 'trx' || prefer.bound === 'rx')) return prefer;
  for (const s of sessions) {
    if (s.bound === 'trx' || s.bound === 'rx') return s;
  }
  return null;
}

function offer(messageId, prefer) {
  const entry = pending.get(messageId);
  if (!entry || entry.session) return;
  const target = receiver(prefer);
  if (!target) return; // offered again by the timer once someone binds
  const sub = entry.sub;
  const text = `id:${messageId} sub:001 dlvrd:001 submit date:${smppDate(entry.submitDate)} ` +
    `done date:${smppDate(new Date())} stat:DELIVRD err:000 text:`;
  const pdu = new smpp.PDU('deliver_sm', {
    service_type: '',
    source_addr_ton: sub.dest_addr_ton,
    source_addr_npi: sub.dest_addr_npi,
    source_addr: sub.destination_addr,
    dest_addr_ton: sub.source_addr_ton,
    dest_addr_npi: sub.source_addr_npi,
    destination_addr: sub.source_addr,
    esm_class: 0x04,
    data_coding: 0x00,
    short_message: Buffer.from(text, 'ascii'),
    receipted_message_id: messageId,
    message_state: 2,
  });
  entry.session = target;
  entry.offers += 1;
  target.inFlight.add(messageId);
  if (entry.offers > 1) stats.receipts_reoffered += 1;
  stats.receipts_sent += 1;
  changed = true;
  target.session.send(pdu, (resp) => {
    target.inFlight.delete(messageId);
    const current = pending.get(messageId);
    if (!current) return;
    if (resp.command_status === 0) {
      pending.delete(messageId);
      stats.receipts_acked += 1;
    } else {
      current.session = null; // refused: offered again later
    }
    changed = true;
  });
}

function onSubmit(st, pdu) {
  if (st.bound !== 'trx' && st.bound !== 'tx') {
    st.session.send(pdu.response({ command_status: E.ESME_RINVBNDSTS }));
    return;
  }
  stats.submits += 1;
  const key = Buffer.isBuffer(pdu.short_message) ? pdu.short_message.toString('hex') : '';
  texts.set(key, (texts.get(key) || 0) + 1);
  msgCounter += 1;
  const messageId = (idBase + msgCounter).toString(16).padStart(10, '0');
  const wantsReceipt = (pdu.registered_delivery & 0x03) === 0x01;
  if (wantsReceipt) {
    pending.set(messageId, {
      sub: {
        source_addr_ton: pdu.source_addr_ton, source_addr_npi: pdu.source_addr_npi,
        source_addr: pdu.source_addr, dest_addr_ton: pdu.dest_addr_ton,
        dest_addr_npi: pdu.dest_addr_npi, destination_addr: pdu.destination_addr,
      },
      submitDate: new Date(),
      session: null,
      offers: 0,
      ready: false, // the submit_sm_resp is written: the receipt may go
    });
  }
  changed = true;
  st.session.send(pdu.response({ message_id: messageId }), null, () => {
    if (!wantsReceipt) return;
    const entry = pending.get(messageId);
    if (entry) entry.ready = true;
    offer(messageId, st);
  });
}

function onBind(st, pdu) {
  let status = E.ESME_ROK;
  if (st.bound) status = E.ESME_RALYBND;
  else if (opts['system-id'] !== undefined && pdu.system_id !== opts['system-id']) status = E.ESME_RINVSYSID;
  else if (opts.password !== undefined && pdu.password !== opts.password) status = E.ESME_RINVPASWD;
  if (status !== E.ESME_ROK) {
    st.session.send(pdu.response({ command_status: status }), null, () => st.session.close());
    return;
  }
  st.bound = { bind_transceiver: 'trx', bind_transmitter: 'tx', bind_receiver: 'rx' }[pdu.command];
  stats.binds += 1;
  changed = true;
  st.session.send(pdu.response({ system_id: 'herald-carrier-sink' }));
}

const server = smpp.createServer((session) => {
  const st = { id: ++sessionCounter, session, bound: null, inFlight: new Set() };
  sessions.add(st);
  session.on('pdu', (pdu) => {
    if (pdu.isResponse()) return;
    switch (pdu.command) {
      case 'bind_transceiver':
      case 'bind_transmitter':
      case 'bind_receiver':
        onBind(st, pdu);
        break;
      case 'submit_sm':
        onSubmit(st, pdu);
        break;
      case 'enquire_link':
        session.send(pdu.response());
        break;
      case 'unbind':
        st.bound = null;
        session.send(pdu.response(), () => session.close());
        break;
      default:
        session.send(pdu.response({ command_status: st.bound ? E.ESME_RINVCMDID : E.ESME_RINVBNDSTS }));
    }
  });
  session.on('error', () => {});
  session.on('close', () => {
    sessions.delete(st);
    // Receipts it carried unanswered are offered again elsewhere.
    for (const id of st.inFlight) {
      const entry = pending.get(id);
      if (entry && entry.session === st) entry.session = null;
    }
    st.inFlight.clear();
    changed = true;
  });
});
server.on('error', (e) => {
  emit({ event: 'fatal', error: String(e && e.message || e) });
  process.exit(1);
});

// Offer again what waits: receipts refused, or whose session went away.
setInterval(() => {
  let budget = 5000;
  for (const [id, entry] of pending) {
    if (budget === 0) break;
    if (entry.ready && !entry.session) {
      offer(id, null);
      budget -= 1;
    }
  }
}, REOFFER_MS);
setInterval(() => {
  if (!changed) return;
  changed = false;
  emit(snapshot());
}, 200);

function shutdown(reason) {
  emit(snapshot());
  emit({ event: 'exit', reason });
  for (const s of sessions) s.session.destroy();
  server.close();
  process.exit(0);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
process.stdout.on('error', () => process.exit(0));
let isPipe = false;
try { isPipe = fs.fstatSync(0).isFIFO() || fs.fstatSync(0).isSocket(); } catch (_) { /* no stdin */ }
if (isPipe) {
  process.stdin.on('end', () => shutdown('stdin closed'));
  process.stdin.on('error', () => shutdown('stdin closed'));
  process.stdin.resume();
}
server.listen(PORT, opts.host, () => {
  emit({ event: 'listening', host: opts.host, port: server.address().port });
});
