// How many of the send path's optimised functions a full GC throws away: a count noise cannot move.
//
// V8 compiles hot functions against the hidden classes (maps) of the objects they see, and holds those maps weakly.
// A map that only short-lived objects have (a caller's `Message`, the bus's draft) dies at any full GC that finds
// none of them alive, and every function compiled against it is deoptimised ("weak objects") and compiled again.
// This module runs a send loop in a child process under `--trace-deopt`, forces a full GC between bursts, and
// counts those deoptimisations of the bus's own functions, beside the hand-written safe bus in the same way.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SEND_LOOP_SETUP } from './child-send-loop.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const GCS = 5;

/** The child: `bus` or `safe`, bursts of sends in a room of 10 live subscribers, a forced full GC after each. */
const CHILD = `
const [kind, root, gcs] = process.argv.slice(1);
const burst = 20_000;
${SEND_LOOP_SETUP}for (let i = 0; i < burst; i++) await send(i);
console.log('--- warm ---');
for (let g = 0; g < Number(gcs); g++) {
  global.gc();
  for (let i = 0; i < burst; i++) await send(i);
}
process.exit(0);
`;

/** Deoptimisations for dead maps ("weak objects") after warm-up, of functions in `files`, over `GCS` forced GCs. */
function weakDeopts(kind, files) {
  const out = execFileSync(
    process.execPath,
    ['--expose-gc', '--trace-deopt', '--input-type=module', '-e', CHILD, kind, join(here, '..'), String(GCS)],
    {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    },
  );
  const after = out.slice(out.indexOf('--- warm ---'));
  // "[marking dependent code 0x… <Code TURBOFAN> (0x… <SharedFunctionInfo name>) … reason: weak objects]": the name
  // alone does not say which file; count the names each side defines, as the caller lists them.
  const names = new Map();
  for (const line of after.split('\n')) {
    if (!line.includes('reason: weak objects')) continue;
    const name = /<SharedFunctionInfo ([^>]*)>/.exec(line)?.[1] ?? '?';
    if (files(name)) names.set(name, (names.get(name) ?? 0) + 1);
  }
  return { total: [...names.values()].reduce((a, b) => a + b, 0), names };
}

/**
 * The send path's functions (the bus's and its memory backend's), and the safe bus's. Class-field initialisers
 * are left out: the trace names them all `<instance_members_initializer>`, Node's own URL class's included, and a
 * class whose initialiser is thrown away has its constructor (listed) thrown away with it.
 */
const BUS_FUNCTIONS =
  /^(#(send|attempt|routeAndAppend|appendRouted|draft|append|appended|route|onStored|sent)$|sendMessage$|checkMessage$|Message$|LazyJsonDraft$|append$|messageFromDraft$|frozenMessage$|draftIdempotencyField$)/;
const SAFE_FUNCTIONS = /^(send$|deepFreeze$|SafeBus$)/;

/** Rows: the bus's and the safe bus's "weak objects" deoptimisations over the same forced GCs. */
export function gcDeoptRows() {
  const bus = weakDeopts('bus', (name) => BUS_FUNCTIONS.test(name));
  const safe = weakDeopts('safe', (name) => SAFE_FUNCTIONS.test(name));
  const top = (names) =>
    [...names]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 4)
      .map(([name, n]) => `${name} ${n}`)
      .join(', ');
  return [
    {
      measure: `send-path functions deoptimised by ${GCS} forced full GCs ("weak objects"), bus, direct, live subscribers`,
      agents: 10,
      deopts: bus.total,
      which: top(bus.names) || 'none',
    },
    {
      measure: `the same, hand-written safe bus`,
      agents: 10,
      deopts: safe.total,
      which: top(safe.names) || 'none',
    },
  ];
}
