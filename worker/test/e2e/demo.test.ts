// `npm start`'s demo, briefly, on a free port: in the addressed room `crew` the planner's requests are answered
// (request/reply over RemoteMessageBus, the answers streamed), and the critic replies to answers in their threads.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ROOT } from '../../../e2e/support/wrangler.js';
import { freePort } from '../../../scripts/support/ports.mjs';

it('the demo asks with request in the addressed room and gets answers', async () => {
  const port = await freePort();
  const output = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      [join(ROOT, 'scripts/demo.mjs'), '--no-build', '--port', String(port), '--rate', '8', '--duration', '30'],
      { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false' }, timeout: 150_000 },
      (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stdout}\n${stderr}`)) : resolve(stdout)),
    );
  });
  expect(output).toContain('crew (addressed');
  expect(output).toMatch(/crew: planner asked researcher-\d about .+ \(#\d+\), answer #\d+ in \d+ ms/);
  expect(output).toMatch(/crew: critic replied to answer #\d+ in thread #\d+/);
  // Longer replies stream word by word, then are stored once.
  expect(output).toMatch(/: researcher-\d streamed reply #\d+ \(\d+ tokens\) to /);
}, 180_000);
