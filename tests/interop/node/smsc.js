#!/usr/bin/env node
// Third-party SMSC for Herald's interop tests, built on the npm `smpp` package's
// server (version pinned in package.json / package-lock.json).
//
//   node smsc.js --port 0 --system-id herald --password secret --receipts
//
// stdout carries one JSON object per line. The first is
//   {"event":"listening","host":"127.0.0.1","port":P}
// then one line per event (connect, bind, submit_sm, deliver_sm, deliver_sm_resp,
// enquire_link, unbind, close, ...). Everything else (diagnostics) goes to stderr.
// Exits on SIGTERM/SIGINT, and on EOF of stdin when stdin is a pipe.
'use strict';

const { parseArgs } = require('node:util');
const fs = require('node:fs');
const smpp = require('smpp');

const USAGE = `usage: node smsc.js [--host 127.0.0.1] [--port 0] [--system-id ID] [--password PW]
                   [--receipts] [--receipt-delay-ms 0] [--receipt-stat DELIVRD]
                   [--receipt-first] [--throttle-every K] [--no-stdin-watch]
  --port 0            pick a free port (printed in the "listening" line)
  --system-id/--password  required credentials (omit to accept any); wrong password
                      -> ESME_RINVPASWD (0x0E), wrong system_id -> ESME_RINVSYSID (0x0F)
  --receipts          send a delivery receipt (deliver_sm, esm_class 0x04) for every
                      accepted submit_sm whose registered_delivery asks for one
  --receipt-first     send that receipt before the submit_sm_resp, which follows
                      --receipt-delay-ms later (the race real carriers produce)
  --throttle-every K  answer every K-th submit_sm with ESME_RTHROTTLED (0x58)`;

let opts;
try {
  opts = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '0' },
      'system-id': { type: 'string' },
      password: { type: 'string' },
      receipts: { type: 'boolean', default: false },
      'receipt-delay-ms': { type: 'string', default: '0' },
      'receipt-stat': { type: 'string', default: 'DELIVRD' },
      'receipt-first': { type: 'boolean', default: false },
      'throttle-every': { type: 'string', default: '0' },
      'no-stdin-watch': { type: 'boolean', default: false },
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
const THROTTLE_EVERY = Number(opts['throttle-every']);
const RECEIPT_DELAY_MS = Number(opts['receipt-delay-ms']);
if (!Number.isInteger(PORT) || PORT < 0 || PORT > 65535 || !Number.isInteger(THROTTLE_EVERY) ||
    THROTTLE_EVERY < 0 || !(RECEIPT_DELAY_MS >= 0)) {
  process.stderr.write(`bad numeric argument\n${USAGE}\n`);
  process.exit(2);
}

// The smpp package decodes short_message/message_payload into {message: String, udh}
// (lossy: unknown bytes become spaces) and time fields into Date objects. We want
// the raw octets, so drop those filters: values then stay Buffers/strings as sent.
for (const cmd of ['submit_sm', 'deliver_sm', 'data_sm']) {
  const params = smpp.commands[cmd].params || {};
  for (const f of ['short_message', 'schedule_delivery_time', 'validity_period']) {
    if (params[f]) delete params[f].filter;
  }
}
delete smpp.tlvs.message_payload.filter;

const E = smpp.errors;
const STATUS_NAMES = Object.fromEntries(Object.entries(E).map(([k, v]) => [v, k]));

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}
function hex(v) {
  if (v === undefined || v === null) return null;
  return Buffer.isBuffer(v) ? v.toString('hex') : Buffer.from(String(v), 'latin1').toString('hex');
}
function smppDate(d) {
  const p = (n) => String(n).padStart(2, '0');
  return p(d.getUTCFullYear() % 100) + p(d.getUTCMonth() + 1) + p(d.getUTCDate()) +
    p(d.getUTCHours()) + p(d.getUTCMinutes());
}
// First 20 characters of the submitted text, for the receipt's "text:" field.
function receiptText(pdu) {
  let data = Buffer.isBuffer(pdu.short_message) ? pdu.short_message : Buffer.alloc(0);
  if (!data.length && Buffer.isBuffer(pdu.message_payload)) data = pdu.message_payload;
  if (pdu.esm_class & 0x40 && data.length) data = data.subarray(data[0] + 1); // skip UDH
  let text;
  switch (pdu.data_coding & 0xff) {
    case 0x00: text = smpp.gsmCoder.decode(data, 0x00); break;
    case 0x01: case 0x03: text = data.toString('latin1'); break;
    case 0x08: text = data.subarray(0, data.length & ~1).swap16().toString('utf16le'); break;
    default: text = '';
  }
  return text.replace(/[^\x20-\x7e]/g, '.').slice(0, 20);
}

const BIND_COMMANDS = {
  bind_transceiver: 'trx',
  bind_transmitter: 'tx',
  bind_receiver: 'rx',
};
const idBase = Math.floor(Math.random() * 0x7fffffff);
let msgCounter = 0;
let submitCounter = 0;
let sessionCounter = 0;
const sessions = new Set();

function receiptTarget(origin) {
  if (origin.bound === 'trx' || origin.bound === 'rx') return origin;
  for (const s of sessions) {
    if (s.systemId === origin.systemId && (s.bound === 'trx' || s.bound === 'rx')) return s;
  }
  return null;
}

function sendReceipt(origin, sub, messageId, submitDate) {
  const target = receiptTarget(origin);
  if (!target) {
    emit({ event: 'receipt_dropped', session: origin.id, message_id: messageId, reason: 'no receiver bound' });
    return;
  }
  const stat = opts['receipt-stat'];
  const text = `id:${messageId} sub:001 dlvrd:${stat === 'DELIVRD' ? '001' : '000'} ` +
    `submit date:${smppDate(submitDate)} done date:${smppDate(new Date())} ` +
    `stat:${stat} err:000 text:${receiptText(sub)}`;
  const states = { ENROUTE: 1, DELIVRD: 2, EXPIRED: 3, DELETED: 4, UNDELIV: 5, ACCEPTD: 6, UNKNOWN: 7, REJECTD: 8 };
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
    message_state: states[stat] || 7,
  });
  const ok = target.session.send(pdu, (resp) => {
    emit({ event: 'deliver_sm_resp', session: target.id, sequence: resp.sequence_number,
      status: resp.command_status, message_id: messageId });
  });
  emit({ event: 'deliver_sm', session: target.id, sequence: pdu.sequence_number, kind: 'receipt',
    source_addr: pdu.source_addr, destination_addr: pdu.destination_addr, esm_class: 0x04,
    receipted_message_id: messageId, message_state: pdu.message_state, short_message: text, sent: ok });
}

function onSubmit(st, pdu) {
  const session = st.session;
  const base = {
    event: 'submit_sm', session: st.id, sequence: pdu.sequence_number,
    service_type: pdu.service_type,
    source_addr_ton: pdu.source_addr_ton, source_addr_npi: pdu.source_addr_npi, source_addr: pdu.source_addr,
    dest_addr_ton: pdu.dest_addr_ton, dest_addr_npi: pdu.dest_addr_npi, destination_addr: pdu.destination_addr,
    esm_class: pdu.esm_class, protocol_id: pdu.protocol_id, registered_delivery: pdu.registered_delivery,
    data_coding: pdu.data_coding, short_message_hex: hex(pdu.short_message),
  };
  if (pdu.message_payload !== undefined) base.message_payload_hex = hex(pdu.message_payload);
  for (const k of ['sar_msg_ref_num', 'sar_total_segments', 'sar_segment_seqnum']) {
    if (pdu[k] !== undefined) base[k] = pdu[k];
  }
  if (st.bound !== 'trx' && st.bound !== 'tx') {
    session.send(pdu.response({ command_status: E.ESME_RINVBNDSTS }));
    emit({ ...base, status: E.ESME_RINVBNDSTS, message_id: null });
    return;
  }
  submitCounter += 1;
  if (THROTTLE_EVERY > 0 && submitCounter % THROTTLE_EVERY === 0) {
    session.send(pdu.response({ command_status: E.ESME_RTHROTTLED }));
    emit({ ...base, status: E.ESME_RTHROTTLED, message_id: null });
    return;
  }
  msgCounter += 1;
  const messageId = (idBase + msgCounter).toString(16).padStart(10, '0');
  const submitDate = new Date();
  const wantsReceipt = opts.receipts && (pdu.registered_delivery & 0x03) === 0x01;
  if (wantsReceipt && opts['receipt-first']) {
    // The receipt goes out first; the answer follows --receipt-delay-ms later, so the
    // ESME must match a receipt whose id it has not been told yet.
    sendReceipt(st, pdu, messageId, submitDate);
    const respond = () => session.send(pdu.response({ message_id: messageId }));
    if (RECEIPT_DELAY_MS > 0) setTimeout(respond, RECEIPT_DELAY_MS); else respond();
    emit({ ...base, status: 0, message_id: messageId, receipt: true, receipt_first: true });
    return;
  }
  // The receipt goes out only after the submit_sm_resp has been written.
  session.send(pdu.response({ message_id: messageId }), null, () => {
    if (!wantsReceipt) return;
    const go = () => sendReceipt(st, pdu, messageId, submitDate);
    if (RECEIPT_DELAY_MS > 0) setTimeout(go, RECEIPT_DELAY_MS); else go();
  });
  emit({ ...base, status: 0, message_id: messageId, receipt: wantsReceipt });
}

function onBind(st, pdu) {
  const session = st.session;
  let status = E.ESME_ROK;
  if (st.bound) status = E.ESME_RALYBND;
  else if (opts['system-id'] !== undefined && pdu.system_id !== opts['system-id']) status = E.ESME_RINVSYSID;
  else if (opts.password !== undefined && pdu.password !== opts.password) status = E.ESME_RINVPASWD;
  emit({ event: 'bind', session: st.id, command: pdu.command, sequence: pdu.sequence_number,
    system_id: pdu.system_id, system_type: pdu.system_type, interface_version: pdu.interface_version,
    result: status, result_name: STATUS_NAMES[status] });
  if (status !== E.ESME_ROK) {
    // Close after the response is flushed (socket.end() still delivers it).
    session.send(pdu.response({ command_status: status }), null, () => {
      if (!st.bound) session.close();
    });
    return;
  }
  st.bound = BIND_COMMANDS[pdu.command];
  st.systemId = pdu.system_id;
  session.send(pdu.response({ system_id: 'herald-interop-smsc' }));
}

const server = smpp.createServer((session) => {
  const st = { id: ++sessionCounter, session, bound: null, systemId: null };
  sessions.add(st);
  const sock = session.socket;
  emit({ event: 'connect', session: st.id, remote: `${sock.remoteAddress}:${sock.remotePort}` });

  session.on('pdu', (pdu) => {
    if (pdu.isResponse()) {
      if (pdu.command === 'generic_nack') {
        emit({ event: 'generic_nack', session: st.id, sequence: pdu.sequence_number, status: pdu.command_status });
      }
      return; // deliver_sm_resp etc. are reported by their send callbacks
    }
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
        emit({ event: 'enquire_link', session: st.id, sequence: pdu.sequence_number });
        session.send(pdu.response());
        break;
      case 'unbind':
        emit({ event: 'unbind', session: st.id, sequence: pdu.sequence_number });
        session.send(pdu.response(), () => session.close());
        st.bound = null;
        break;
      case 'unknown':
        emit({ event: 'unknown', session: st.id, command_id: pdu.command_id, sequence: pdu.sequence_number });
        session.send(pdu.response()); // generic_nack ESME_RINVCMDID
        break;
      default:
        emit({ event: 'unsupported', session: st.id, command: pdu.command, sequence: pdu.sequence_number });
        session.send(pdu.response({ command_status: st.bound ? E.ESME_RINVCMDID : E.ESME_RINVBNDSTS }));
    }
  });
  session.on('error', (e) => emit({ event: 'error', session: st.id, error: String(e && e.message || e) }));
  session.on('close', () => {
    sessions.delete(st);
    emit({ event: 'close', session: st.id });
  });
});

server.on('error', (e) => {
  emit({ event: 'fatal', error: String(e && e.message || e) });
  process.exit(1);
});

function shutdown(reason) {
  emit({ event: 'exit', reason });
  for (const s of sessions) s.session.destroy();
  server.close();
  process.exit(0);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
process.stdout.on('error', () => process.exit(0)); // reader went away (EPIPE)

if (!opts['no-stdin-watch']) {
  let isPipe = false;
  try { isPipe = fs.fstatSync(0).isFIFO() || fs.fstatSync(0).isSocket(); } catch (_) { /* no stdin */ }
  if (isPipe) {
    process.stdin.on('end', () => shutdown('stdin closed'));
    process.stdin.on('error', () => shutdown('stdin closed'));
    process.stdin.resume();
  }
}

server.listen(PORT, opts.host, () => {
  emit({ event: 'listening', host: opts.host, port: server.address().port });
});
