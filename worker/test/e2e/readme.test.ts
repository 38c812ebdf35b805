// The README's edge examples, run as written against a real `wrangler dev`: the curl walkthrough (bash, with
// `npm run token` for the tokens) and the remote-client example. Only the address changes: the README says
// http://localhost:8787, the test server listens on a free port.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { format } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../../e2e/support/wrangler.js';
import { startWrangler, tokenFor, type WranglerServer } from './support.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/^```(\w+) test=worker\/test\/e2e\/readme\.test\.ts\n([\s\S]*?)^```$/gm)].map((m) => ({
  lang: m[1],
  code: m[2] ?? '',
}));
const curl = blocks.find((b) => b.lang === 'bash');
const client = blocks.find((b) => b.lang === 'ts');

let dev: WranglerServer;
beforeAll(async () => {
  dev = await startWrangler({});
});
afterAll(async () => {
  await dev?.stop();
});

describe('README edge examples', () => {
  it('the README has the curl walkthrough and the remote-client example', () => {
    expect(curl?.code).toContain('curl');
    expect(client?.code).toContain('RemoteMessageBus');
  });

  it('the curl walkthrough runs: every request succeeds and bob reads what alice sent', () => {
    const script = `set -euo pipefail\n${(curl?.code ?? '').replaceAll('http://localhost:8787', dev.url)}`;
    const output = execFileSync('bash', ['-c', script], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, BUS_SECRET: dev.secret },
    });
    expect(output).toContain('"hi bob"');
    // bob's reply is in alice's view of thread 1, and first in her newest page.
    expect(output).toMatch(/"inReplyTo":1,"metadata":\{"kind":"reply"\}/);
    expect(output).toMatch(/\{"messages":\[\{"id":1,.*"thread":1.*\},\{"id":2,.*"inReplyTo":1.*\}\]\}/);
    expect(output).toMatch(/"cursor":1/);
    expect(output).toMatch(/^mmb_messages_sent_total\{room="lobby",policy="individual"\} 2$/m);
  }, 60_000);

  it('the remote-client example runs against the worker', async () => {
    const dir = join(ROOT, '.tmp', 'readme-worker');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'remote-client.ts');
    writeFileSync(file, `${(client?.code ?? '').replaceAll('http://localhost:8787', dev.url)}\nexport {};\n`);
    // As the README's comment mints it: `--groups team`, so alice may choose the group "team" itself.
    process.env.ALICE_TOKEN = await tokenFor(dev.secret, 'alice', 'lobby', 'agent', { groups: ['team'] });
    const logged: string[] = [];
    const original = console.log;
    console.log = (...args: unknown[]) => void logged.push(format(...args));
    try {
      await import(pathToFileURL(file).href);
    } finally {
      console.log = original;
    }
    // The subscription replays what was routed to alice: bob's reply from the curl walkthrough, and nothing of
    // her own send to bob, which reached bob, as the admin history shows.
    const admin = await tokenFor(dev.secret, 'admin', '*', 'admin');
    const history = await fetch(`${dev.url}/v1/rooms/lobby/history?after=0`, { headers: { authorization: `Bearer ${admin}` } });
    const { messages } = (await history.json()) as { messages: Array<{ sender: string; recipients: string[]; content: unknown }> };
    expect(messages.at(-1)).toMatchObject({ sender: 'alice', recipients: ['bob'], content: { text: 'hello' } });
    expect(logged).toEqual(['2 bob hi alice']);
  }, 60_000);
});
