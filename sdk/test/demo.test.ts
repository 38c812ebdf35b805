// The Node demo (`npm run demo:node`) runs and shows each routing policy doing its job.
import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

it('the Node demo routes broadcast, subgroup and direct messages', () => {
  const output = execFileSync(process.execPath, [join(root, 'sdk/examples/node-demo.mjs')], { encoding: 'utf8' });
  expect(output).toContain('#1 planner -> ana, ben, coder, critic (broadcast)');
  expect(output).toContain('#2 planner -> ana, ben (subgroup: research)');
  expect(output).toContain('#4 critic -> coder (individual: coder)');
  expect(output).toContain('  coder   <- #4 critic [individual] "Check the ordering guarantees first."');
  expect(output).toMatch(/ana {5}groups=research sent=1 cursor=3 lag=2/);
  expect(output).toMatch(/mmb_messages_sent_total\{room="demo",policy="subgroup"\} 3/);
}, 30_000);
