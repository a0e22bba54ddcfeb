#!/usr/bin/env node
// A small carrier SMSC for scripts/check-observability.sh, on the npm `smpp` package that
// tests/interop/node installs. It makes the rarely seen metric families appear: it
// answers submit_sm OK (with a receipt when asked) except every --error-every-th, which
// gets ESME_RSUBMITFAIL, and every --throttle-every-th, which gets ESME_RTHROTTLED; and it
// sends an MO deliver_sm to every bound transceiver every --mo-ms.
//
//   node carrier.js --port P [--error-every 5] [--throttle-every 7] [--mo-ms 300]
//
// Prints {"event":"listening","port":P} on stdout once listening; stops on SIGTERM or
// SIGINT. Loopback only.
'use strict';

const path = require('node:path');
const { parseArgs } = require('node:util');
const smpp = require(path.join(__dirname, '../../tests/interop/node/node_modules/smpp'));

const opts = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'error-every': { type: 'string', default: '5' },
    'throttle-every': { type: 'string', default: '7' },
    'mo-ms': { type: 'string', default: '300' },
  },
}).values;
const ERROR_EVERY = Number(opts['error-every']);
const THROTTLE_EVERY = Number(opts['throttle-every']);
const MO_MS = Number(opts['mo-ms']);
const E = smpp.errors;

let submits = 0;
let ids = 0;
let mos = 0;
const bound = new Set();

function stamp(d) {
  const p = (n) => String(n).padStart(2, '0');
  return p(d.getUTCFullYear() % 100) + p(d.getUTCMonth() + 1) + p(d.getUTCDate()) + p(d.getUTCHours()) + p(d.getUTCMinutes());
}

const server = smpp.createServer((session) => {
  session.on('error', () => {});
  session.on('close', () => bound.delete(session));
  session.on('pdu', (pdu) => {
    if (pdu.isResponse()) return;
    switch (pdu.command) {
      case 'bind_transceiver':
      case 'bind_transmitter':
      case 'bind_receiver':
        session.send(pdu.response({ system_id: 'obs-carrier' }));
        if (pdu.command !== 'bind_transmitter') bound.add(session);
        break;
      case 'submit_sm': {
        submits += 1;
        if (THROTTLE_EVERY > 0 && submits % THROTTLE_EVERY === 0) {
          session.send(pdu.response({ command_status: E.ESME_RTHROTTLED }));
          break;
        }
        if (ERROR_EVERY > 0 && submits % ERROR_EVERY === 0) {
          session.send(pdu.response({ command_status: E.ESME_RSUBMITFAIL }));
          break;
        }
        ids += 1;
        const id = ids.toString(16).padStart(10, '0');
        const submitted = new Date();
        session.send(pdu.response({ message_id: id }), null, () => {
          if ((pdu.registered_delivery & 0x03) === 0) return;
          const text = `id:${id} sub:001 dlvrd:001 submit date:${stamp(submitted)} done date:${stamp(new Date())} stat:DELIVRD err:000 text:`;
          session.send(new smpp.PDU('deliver_sm', {
            source_addr_ton: pdu.dest_addr_ton, source_addr_npi: pdu.dest_addr_npi, source_addr: pdu.destination_addr,
            dest_addr_ton: pdu.source_addr_ton, dest_addr_npi: pdu.source_addr_npi, destination_addr: pdu.source_addr,
            esm_class: 0x04, data_coding: 0, short_message: Buffer.from(text, 'ascii'),
            receipted_message_id: id, message_state: 2,
          }));
        });
        break;
      }
      case 'enquire_link':
        session.send(pdu.response());
        break;
      case 'unbind':
        bound.delete(session);
        session.send(pdu.response(), () => session.close());
        break;
      default:
        session.send(pdu.response());
    }
  });
});

if (MO_MS > 0) {
  setInterval(() => {
    for (const session of bound) {
      mos += 1;
      session.send(new smpp.PDU('deliver_sm', {
        source_addr_ton: 1, source_addr_npi: 1, source_addr: '447700900123',
        dest_addr_ton: 0, dest_addr_npi: 1, destination_addr: '80080',
        esm_class: 0, data_coding: 0, short_message: Buffer.from(`HELLO ${mos}`, 'ascii'),
      }));
    }
  }, MO_MS).unref();
}

server.on('error', (e) => {
  process.stderr.write(`carrier: ${e.message}\n`);
  process.exit(1);
});
server.listen(Number(opts.port), '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ event: 'listening', port: server.address().port }) + '\n');
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
