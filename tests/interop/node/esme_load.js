#!/usr/bin/env node
// A third-party ESME for Herald's crash tests, on the npm `smpp` package's client: several
// transceiver sessions, each keeping a window of submit_sm in flight, every message asking
// for a receipt and carrying its own text (`chaos <i>`). A submit answered with an error
// (the cluster recovering from a crash) is submitted again 50 ms later, as an ESME does; a
// session that drops is bound again. It answers every deliver_sm and counts the receipts
// of each message id the edge answered OK.
//
//   node esme_load.js --port P --system-id acme --password secret --count 10000
//
// It ends when every accepted message has a receipt, or when no new receipt came for
// --receipt-wait seconds after the last submit was answered, and prints one JSON line:
//   {"accepted":N,"refused":R,"receipts":K,"with_receipt":W,"repeated":P,
//    "missing":M,"missing_ids":[...first 20],"rebinds":B,"elapsed_ms":T}
// `repeated` counts messages that got more than one final receipt. Exit 0 when nothing is
// missing, 1 otherwise, 3 on a usage or bind error.
'use strict';

const { parseArgs } = require('node:util');
const smpp = require('smpp');

const USAGE = `usage: node esme_load.js --port P --system-id ID [--password PW] [--host 127.0.0.1]
                   [--count 1000] [--sessions 4] [--window 100] [--receipt-wait 60]`;

let opts;
try {
  opts = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      'system-id': { type: 'string' },
      password: { type: 'string', default: '' },
      count: { type: 'string', default: '1000' },
      sessions: { type: 'string', default: '4' },
      window: { type: 'string', default: '100' },
      'receipt-wait': { type: 'string', default: '60' },
      help: { type: 'boolean', default: false },
    },
  }).values;
} catch (e) {
  process.stderr.write(`${e.message}\n${USAGE}\n`);
  process.exit(3);
}
if (opts.help) {
  process.stdout.write(USAGE + '\n');
  process.exit(0);
}
const PORT = Number(opts.port);
const COUNT = Number(opts.count);
const SESSIONS = Number(opts.sessions);
const WINDOW = Number(opts.window);
const RECEIPT_WAIT_MS = Number(opts['receipt-wait']) * 1000;
if (!Number.isInteger(PORT) || !Number.isInteger(COUNT) || !(SESSIONS >= 1) || !(WINDOW >= 1) ||
    !(RECEIPT_WAIT_MS > 0) || opts['system-id'] === undefined) {
  process.stderr.write(`bad or missing argument\n${USAGE}\n`);
  process.exit(3);
}

const start = Date.now();
const queue = []; // message numbers waiting to be submitted (again)
for (let i = 0; i < COUNT; i += 1) queue.push(i);
const accepted = new Map(); // Herald message id -> receipts
let answered = 0; // messages answered OK
let refused = 0;
let receipts = 0;
let rebinds = 0;
let lastProgress = Date.now();
let finished = false;

function finish() {
  if (finished) return;
  finished = true;
  let withReceipt = 0;
  let repeated = 0;
  const missing = [];
  for (const [id, n] of accepted) {
    if (n > 0) withReceipt += 1;
    if (n > 1) repeated += 1;
    if (n === 0) missing.push(id);
  }
  const out = {
    accepted: accepted.size, refused, receipts, with_receipt: withReceipt, repeated,
    missing: missing.length + (COUNT - answered), missing_ids: missing.slice(0, 20),
    unanswered: COUNT - answered, rebinds, elapsed_ms: Date.now() - start,
  };
  process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(out.missing === 0 ? 0 : 1));
}

function done() {
  if (answered < COUNT) return false;
  for (const n of accepted.values()) if (n === 0) return false;
  return true;
}

setInterval(() => {
  if (done()) finish();
  else if (answered === COUNT && Date.now() - lastProgress > RECEIPT_WAIT_MS) finish();
}, 200);

function submitBody(i) {
  return {
    source_addr_ton: 1, source_addr_npi: 1, source_addr: '447700900000',
    dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: `4477${String(i).padStart(8, '0')}`,
    registered_delivery: 1, data_coding: 0,
    short_message: Buffer.from(`chaos ${i}`, 'ascii'),
  };
}

function openSession(n) {
  const st = { inFlight: 0, bound: false, numbers: new Set() };
  const session = smpp.connect({ host: opts.host, port: PORT });
  st.session = session;
  const pump = () => {
    while (st.bound && st.inFlight < WINDOW && queue.length > 0) {
      const i = queue.shift();
      st.inFlight += 1;
      st.numbers.add(i);
      const sent = session.submit_sm(submitBody(i), (resp) => {
        st.inFlight -= 1;
        st.numbers.delete(i);
        if (resp.command_status === 0 && resp.message_id) {
          const id = String(resp.message_id);
          if (!accepted.has(id)) accepted.set(id, 0);
          answered += 1;
          lastProgress = Date.now();
        } else {
          refused += 1;
          setTimeout(() => { queue.push(i); pump(); }, 50);
        }
        pump();
      });
      if (!sent) {
        st.inFlight -= 1;
        st.numbers.delete(i);
        queue.push(i);
        return;
      }
    }
  };
  session.on('connect', () => {
    session.bind_transceiver({
      system_id: opts['system-id'], password: opts.password, interface_version: 0x34,
    }, (resp) => {
      if (resp.command_status !== 0) {
        process.stderr.write(`session ${n}: bind refused 0x${resp.command_status.toString(16)}\n`);
        session.close();
        return;
      }
      st.bound = true;
      pump();
    });
  });
  session.on('deliver_sm', (pdu) => {
    const id = pdu.receipted_message_id ? String(pdu.receipted_message_id) : null;
    if (id !== null && accepted.has(id)) {
      accepted.set(id, accepted.get(id) + 1);
      receipts += 1;
      lastProgress = Date.now();
    } else if (id !== null) {
      // A receipt before its submit_sm_resp was read: count it once the answer comes.
      accepted.set(id, 1);
      receipts += 1;
    }
    session.send(pdu.response());
  });
  session.on('enquire_link', (pdu) => session.send(pdu.response()));
  session.on('error', () => {});
  session.on('close', () => {
    if (finished) return;
    // Submits in flight on it are unanswered: submit them again elsewhere.
    st.bound = false;
    for (const i of st.numbers) queue.push(i);
    st.numbers.clear();
    rebinds += 1;
    setTimeout(() => openSession(n), 500);
  });
  return st;
}

for (let n = 0; n < SESSIONS; n += 1) openSession(n);
process.on('SIGTERM', finish);
process.on('SIGINT', finish);
