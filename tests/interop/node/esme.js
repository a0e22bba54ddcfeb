#!/usr/bin/env node
// Second third-party ESME for Herald's interop tests, built on the npm `smpp`
// package's client (version pinned in package.json / package-lock.json).
//
//   node esme.js --port P --system-id herald --password secret --count 5 --long --expect-deliver 8
//
// Binds, submits --count messages (GSM 03.38 default alphabet, data_coding 0,
// registered_delivery 1) and with --long one long message split here into
// UDH-concatenated parts (the smpp package has no split helper); with --multi N one
// submit_multi to N numbers (--dest-addr, +1, +2, ...; --multi-dl adds a distribution
// list name among them, which an SMSC may refuse in unsuccess_sme) and with --data-sm K
// K data_sm whose text is in message_payload. Answers every
// deliver_sm with deliver_sm_resp, waits for --expect-deliver deliver_sm, sends one
// enquire_link, unbinds and prints ONE JSON object on stdout, same shape as
// ../esme_smpplib.py:
//   {"bound":true,"bind_status":0,"system_id":"...","submitted":[{"command":"submit_sm"|"data_sm",
//                  "seq":..,"status":..,"message_id":..,"part":..}],
//    "multi":null|{"status":..,"message_id":..,"destinations":[..],"unsuccess":[{"destination_addr":..,"error_status_code":..}]},
//    "delivered":[{"seq":..,"source_addr":..,"destination_addr":..,"esm_class":..,"data_coding":..,
//                  "short_message_hex":..,"receipted_message_id":..,"message_state":..}],
//    "enquire_link_ok":true,"unbound":true,"elapsed_ms":..}
// Exit codes: 0 ok, 1 expectation not met / timeout, 2 bind rejected, 3 connection or usage error.
'use strict';

const { parseArgs } = require('node:util');
const smpp = require('smpp');

const USAGE = `usage: node esme.js --port P --system-id ID [--password PW] [--host 127.0.0.1]
                  [--bind trx|tx|rx] [--count 1] [--expect-deliver 0] [--timeout 10]
                  [--text "Herald interop {i}"] [--long] [--long-text T]
                  [--source-addr 12345] [--dest-addr 491700000001] [--registered-delivery 1]
                  [--interface-version 0x34] [--allow-submit-errors]
                  [--multi 0] [--multi-dl] [--data-sm 0]`;

const DEFAULT_LONG_TEXT =
  'Herald interop long message from node smpp. This text is longer than one SMS, so ' +
  'esme.js splits it into 153-septet parts, each prefixed with a concatenation UDH ' +
  '(05 00 03 ref total seq) and sent with esm_class 0x40 and registered_delivery set. END';

let opts;
try {
  opts = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      'system-id': { type: 'string' },
      password: { type: 'string', default: '' },
      'system-type': { type: 'string', default: '' },
      bind: { type: 'string', default: 'trx' },
      count: { type: 'string', default: '1' },
      'expect-deliver': { type: 'string', default: '0' },
      timeout: { type: 'string', default: '10' },
      text: { type: 'string', default: 'Herald interop {i}' },
      long: { type: 'boolean', default: false },
      'long-text': { type: 'string', default: DEFAULT_LONG_TEXT },
      'source-addr': { type: 'string', default: '12345' },
      'source-ton': { type: 'string', default: '1' },
      'source-npi': { type: 'string', default: '1' },
      'dest-addr': { type: 'string', default: '491700000001' },
      'dest-ton': { type: 'string', default: '1' },
      'dest-npi': { type: 'string', default: '1' },
      'registered-delivery': { type: 'string', default: '1' },
      // The smpp package defaults interface_version to 0x50 (SMPP 5.0); we speak 3.4.
      'interface-version': { type: 'string', default: '0x34' },
      'allow-submit-errors': { type: 'boolean', default: false },
      multi: { type: 'string', default: '0' },
      'multi-dl': { type: 'boolean', default: false },
      'data-sm': { type: 'string', default: '0' },
      help: { type: 'boolean', default: false },
    },
  }).values;
} catch (e) {
  usageError(e.message);
}
if (opts.help) {
  process.stdout.write(USAGE + '\n');
  process.exit(0);
}
const num = (k) => {
  const v = Number(opts[k]);
  if (!Number.isFinite(v) || v < 0) usageError(`bad --${k}`);
  return v;
};
if (opts.port === undefined || opts['system-id'] === undefined) usageError('--port and --system-id are required');
if (!['trx', 'tx', 'rx'].includes(opts.bind)) usageError('--bind must be trx, tx or rx');
const PORT = num('port');
const COUNT = num('count');
const EXPECT = num('expect-deliver');
const TIMEOUT_MS = num('timeout') * 1000;
const MULTI = num('multi');
const DATA_SM = num('data-sm');
if (opts.bind === 'rx' && (COUNT > 0 || opts.long)) usageError('--bind rx cannot submit: use --count 0 and no --long');

function usageError(msg) {
  process.stderr.write(`${msg}\n${USAGE}\n`);
  process.stdout.write(JSON.stringify({ bound: false, error: `usage: ${msg}` }) + '\n');
  process.exit(3);
}

// Keep short_message / message_payload as raw Buffers on decode (the package would
// otherwise turn them into {message: String, udh} and lose bytes).
for (const cmd of ['submit_sm', 'deliver_sm', 'data_sm']) {
  const p = smpp.commands[cmd].params;
  if (p.short_message) delete p.short_message.filter;
}
delete smpp.tlvs.message_payload.filter;

const start = Date.now();
const result = {
  bound: false,
  bind_status: null,
  system_id: null,
  submitted: [],
  multi: null,
  delivered: [],
  enquire_link_ok: false,
  unbound: false,
};
let pending = 0;
let finished = false;
let unbindSent = false;
let peerUnbound = false;

// GSM 03.38 default alphabet, one septet per octet (unpacked, as SMPP carries it).
function gsmEncode(text) {
  return smpp.gsmCoder.encode(text, 0x00);
}
// Split already-encoded GSM text into UDH-concatenated parts (153 septets each),
// never splitting an escape (0x1B) from the character it escapes.
function splitConcat(encoded) {
  if (encoded.length <= 160) return [{ data: encoded, esm: 0x00, label: null }];
  const chunks = [];
  let i = 0;
  while (i < encoded.length) {
    let end = Math.min(i + 153, encoded.length);
    if (end < encoded.length && encoded[end - 1] === 0x1b) end -= 1;
    chunks.push(encoded.subarray(i, end));
    i = end;
  }
  if (chunks.length > 255) throw new Error('message too long');
  const ref = Math.floor(Math.random() * 256);
  return chunks.map((c, n) => ({
    data: Buffer.concat([Buffer.from([0x05, 0x00, 0x03, ref, chunks.length, n + 1]), c]),
    esm: 0x40,
    label: `${n + 1}/${chunks.length}`,
  }));
}

function finish(code, error) {
  if (finished) return;
  finished = true;
  clearTimeout(hardTimer);
  const out = { ...result, elapsed_ms: Date.now() - start };
  if (error) out.error = error;
  process.stdout.write(JSON.stringify(out) + '\n', () => {
    session.destroy();
    process.exit(code);
  });
}

function verdict() {
  if (!result.bound) return 'not bound (no bind response)';
  if (peerUnbound) return 'peer sent unbind';
  if (pending > 0) return `${pending} submit_sm without response`;
  const bad = result.submitted.filter((s) => s.status !== 0);
  if (bad.length && !opts['allow-submit-errors']) {
    return `${bad.length} submit_sm_resp with error status (first: 0x${bad[0].status.toString(16).padStart(8, '0')})`;
  }
  if (result.multi && result.multi.status !== 0 && !opts['allow-submit-errors']) {
    return `submit_multi_resp with error status 0x${result.multi.status.toString(16).padStart(8, '0')}`;
  }
  if (result.delivered.length < EXPECT) return `got ${result.delivered.length} deliver_sm, expected ${EXPECT}`;
  if (!result.enquire_link_ok) return 'no enquire_link_resp';
  if (!result.unbound) return 'no unbind_resp';
  return null;
}

function unbind() {
  if (unbindSent || finished) return;
  unbindSent = true;
  clearTimeout(softTimer);
  const sent = session.unbind((pdu) => {
    result.unbound = pdu.command_status === 0;
    const err = verdict();
    finish(err ? 1 : 0, err);
  });
  if (!sent) finish(3, 'connection closed before unbind');
}

function maybeDone() {
  if (pending === 0 && result.delivered.length >= EXPECT && result.enquire_link_ok) unbind();
}

// Hard limit: never outlive --timeout. Soft limit: leave time for a clean unbind.
const hardTimer = setTimeout(() => finish(1, `timeout after ${TIMEOUT_MS / 1000}s: ${verdict()}`), TIMEOUT_MS);
const softTimer = setTimeout(() => {
  if (result.bound) unbind();
}, Math.max(TIMEOUT_MS - Math.min(2000, TIMEOUT_MS * 0.2), 0));

const session = smpp.connect({ host: opts.host, port: PORT });

session.on('error', (e) => {
  finish(3, `connection error: ${e && e.message ? e.message : e}`);
});
session.on('close', () => {
  if (!finished) finish(3, result.bound ? 'connection closed by peer' : 'connection closed before bind');
});

session.on('deliver_sm', (pdu) => {
  result.delivered.push({
    seq: pdu.sequence_number,
    source_addr: pdu.source_addr,
    destination_addr: pdu.destination_addr,
    esm_class: pdu.esm_class,
    data_coding: pdu.data_coding,
    short_message_hex: Buffer.isBuffer(pdu.short_message) ? pdu.short_message.toString('hex') : '',
    message_payload_hex: Buffer.isBuffer(pdu.message_payload) ? pdu.message_payload.toString('hex') : null,
    receipted_message_id: pdu.receipted_message_id === undefined ? null : pdu.receipted_message_id,
    message_state: pdu.message_state === undefined ? null : pdu.message_state,
  });
  session.send(pdu.response());
  maybeDone();
});
session.on('enquire_link', (pdu) => session.send(pdu.response()));
session.on('unbind', (pdu) => {
  peerUnbound = true;
  session.send(pdu.response(), () => finish(1, 'peer sent unbind'));
});

function submitPart(data, esm, label) {
  const pdu = new smpp.PDU('submit_sm', {
    source_addr_ton: Number(opts['source-ton']),
    source_addr_npi: Number(opts['source-npi']),
    source_addr: opts['source-addr'],
    dest_addr_ton: Number(opts['dest-ton']),
    dest_addr_npi: Number(opts['dest-npi']),
    destination_addr: opts['dest-addr'],
    esm_class: esm,
    registered_delivery: Number(opts['registered-delivery']),
    data_coding: 0x00, // Buffer payload: set explicitly, the package would leave it null -> 0
    short_message: data,
  });
  const entry = {
    command: 'submit_sm', seq: null, status: null, message_id: null, part: label,
    esm_class: esm, data_coding: 0, short_message_hex: data.toString('hex'),
  };
  pending += 1;
  session.send(pdu, (resp) => {
    pending -= 1;
    entry.status = resp.command_status;
    entry.message_id = resp.command_status === 0 && resp.message_id !== undefined ? resp.message_id : null;
    maybeDone();
  });
  entry.seq = pdu.sequence_number; // assigned by send()
  result.submitted.push(entry);
}

function submitText(text) {
  for (const p of splitConcat(gsmEncode(text))) submitPart(p.data, p.esm, p.label);
}

// The n-th number after --dest-addr (digits only).
function destination(n) {
  return (BigInt(opts['dest-addr']) + BigInt(n)).toString();
}

function submitMulti(count, withList) {
  const destinations = [];
  for (let i = 0; i < count; i++) {
    destinations.push({
      dest_addr_ton: Number(opts['dest-ton']),
      dest_addr_npi: Number(opts['dest-npi']),
      destination_addr: destination(i),
    });
  }
  if (withList) destinations.push({ dl_name: 'friends' });
  const data = gsmEncode('Herald interop submit_multi');
  const pdu = new smpp.PDU('submit_multi', {
    source_addr_ton: Number(opts['source-ton']),
    source_addr_npi: Number(opts['source-npi']),
    source_addr: opts['source-addr'],
    dest_address: destinations,
    registered_delivery: Number(opts['registered-delivery']),
    data_coding: 0x00,
    short_message: data,
  });
  result.multi = {
    status: null,
    message_id: null,
    destinations: destinations.map((d) => d.destination_addr || `dl:${d.dl_name}`),
    unsuccess: [],
  };
  pending += 1;
  session.send(pdu, (resp) => {
    pending -= 1;
    result.multi.status = resp.command_status;
    result.multi.message_id = resp.message_id === undefined ? null : resp.message_id;
    result.multi.unsuccess = (resp.unsuccess_sme || []).map((u) => ({
      destination_addr: u.destination_addr,
      error_status_code: u.error_status_code,
    }));
    maybeDone();
  });
}

function submitDataSm(i) {
  const text = `Herald interop data_sm ${i}`;
  const pdu = new smpp.PDU('data_sm', {
    source_addr_ton: Number(opts['source-ton']),
    source_addr_npi: Number(opts['source-npi']),
    source_addr: opts['source-addr'],
    dest_addr_ton: Number(opts['dest-ton']),
    dest_addr_npi: Number(opts['dest-npi']),
    destination_addr: opts['dest-addr'],
    registered_delivery: Number(opts['registered-delivery']),
    data_coding: 0x00,
    message_payload: gsmEncode(text),
  });
  const entry = { command: 'data_sm', seq: null, status: null, message_id: null, part: null };
  pending += 1;
  session.send(pdu, (resp) => {
    pending -= 1;
    entry.status = resp.command_status;
    entry.message_id = resp.command_status === 0 && resp.message_id !== undefined ? resp.message_id : null;
    maybeDone();
  });
  entry.seq = pdu.sequence_number;
  result.submitted.push(entry);
}

session.on('connect', () => {
  const bindCmd = { trx: 'bind_transceiver', tx: 'bind_transmitter', rx: 'bind_receiver' }[opts.bind];
  session[bindCmd]({
    system_id: opts['system-id'],
    password: opts.password,
    system_type: opts['system-type'],
    interface_version: Number(opts['interface-version']),
  }, (pdu) => {
    result.bind_status = pdu.command_status;
    if (pdu.command_status !== 0) {
      const name = Object.keys(smpp.errors).find((k) => smpp.errors[k] === pdu.command_status) || 'unknown';
      finish(2, `bind_${opts.bind} rejected: 0x${pdu.command_status.toString(16).padStart(8, '0')} ${name}`);
      return;
    }
    result.bound = true;
    result.system_id = pdu.system_id === undefined ? null : pdu.system_id;
    for (let i = 1; i <= COUNT; i++) submitText(opts.text.replaceAll('{i}', String(i)));
    if (opts.long) submitText(opts['long-text']);
    if (MULTI > 0) submitMulti(MULTI, opts['multi-dl']);
    for (let i = 1; i <= DATA_SM; i++) submitDataSm(i);
    session.enquire_link((resp) => {
      result.enquire_link_ok = resp.command_status === 0;
      maybeDone();
    });
  });
});
