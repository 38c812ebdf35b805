// How many calls into V8's runtime and the clock one in-memory send makes: a count noise cannot move.
//
// `Object.freeze` and `Object.isFrozen` on an array are runtime calls (~100 ns each on these VMs), and a clock read
// (`performance.now()`, `Date.now()`) ~60-80 ns: on a send of a few µs, each one shows. This module runs a send
// loop in a child process whose `Object.freeze`, `Object.isFrozen`, `performance.now` and `Date.now` are wrapped
// to count (installed before the bus is imported, so the bus's own references are the wrapped ones), and reports
// the calls per send after warm-up, beside the hand-written safe bus in the same way.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SEND_LOOP_SETUP } from './child-send-loop.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const SENDS = 2_000;

/** The child: `bus` or `safe`, direct sends in a room of 10 live subscribers; prints the counts per send as JSON. */
const CHILD = `
const [kind, root, sends] = process.argv.slice(1);
const counts = { freeze: 0, isFrozen: 0, clock: 0 };
let counting = false;
const wrap = (owner, name, key) => {
  const original = owner[name];
  owner[name] = function (...args) {
    if (counting) counts[key]++;
    return original.apply(this, args);
  };
};
wrap(Object, 'freeze', 'freeze');
wrap(Object, 'isFrozen', 'isFrozen');
wrap(performance, 'now', 'clock');
wrap(Date, 'now', 'clock');
${SEND_LOOP_SETUP}for (let i = 0; i < 1000; i++) await send(i);
counting = true;
for (let i = 0; i < Number(sends); i++) await send(i);
counting = false;
const per = (n) => +(n / Number(sends)).toFixed(2);
console.log(JSON.stringify({ freeze: per(counts.freeze), isFrozen: per(counts.isFrozen), clock: per(counts.clock) }));
`;

function countsOf(kind) {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', CHILD, kind, join(here, '..'), String(SENDS)], {
    encoding: 'utf8',
  });
  return JSON.parse(out.trim().split('\n').at(-1));
}

/** Rows: runtime and clock calls per direct send with live subscribers, the bus and the safe bus. */
export function runtimeCallRows() {
  const row = (measure, counts) => ({
    measure,
    agents: 10,
    'Object.freeze/send': counts.freeze,
    'Object.isFrozen/send': counts.isFrozen,
    'clock reads/send': counts.clock,
  });
  return [
    row('runtime and clock calls per send: bus, direct, live subscribers', countsOf('bus')),
    row('runtime and clock calls per send: hand-written safe bus, direct', countsOf('safe')),
  ];
}
