// The SDK as users install it: `npm pack`, install the tarball into a fresh project, import it by the
// documented paths from ESM and from TypeScript (types resolved through the `exports` map), and lint the
// package with publint.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const sdk = join(root, 'sdk');
const project = mkdtempSync(join(tmpdir(), 'mmb-pack-'));
const run = (command: string, args: string[], cwd: string) =>
  execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

afterAll(() => rmSync(project, { recursive: true, force: true }));

describe('the published package', () => {
  it('passes publint', () => {
    const output = run(process.execPath, [join(root, 'node_modules/publint/src/cli.js'), sdk], root);
    expect(output).not.toMatch(/error/i);
  }, 60_000);

  it('installs from its tarball and imports by the documented paths, with types', () => {
    run('npm', ['pack', '--pack-destination', project], sdk);
    const tarball = readdirSync(project).find((f) => f.endsWith('.tgz'));
    expect(tarball).toBeDefined();
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    run('npm', ['install', `./${tarball}`, '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts'], project);

    writeFileSync(
      join(project, 'check.mjs'),
      `import { MessageBus, Message, MessageBusError } from 'modular-message-bus-library';
import { InMemoryStorageBackend } from 'modular-message-bus-library/backends';
import { BroadcastRoutingPolicy, SubgroupRoutingPolicy, IndividualRoutingPolicy } from 'modular-message-bus-library/routing-policies';
import { storageBackendSuite, routingPolicySuite } from 'modular-message-bus-library/testing';
const bus = new MessageBus(new InMemoryStorageBackend(), new BroadcastRoutingPolicy(), { room: 'packed' });
await bus.connectAgent('a'); await bus.connectAgent('b');
const sent = await bus.sendMessage(new Message('a', 'from the tarball'));
console.log(JSON.stringify({ id: sent.id, recipients: sent.recipients, kinds: [typeof SubgroupRoutingPolicy, typeof IndividualRoutingPolicy, typeof MessageBusError, typeof storageBackendSuite, typeof routingPolicySuite] }));
`,
    );
    const output = JSON.parse(run(process.execPath, ['check.mjs'], project));
    expect(output).toEqual({ id: 1, recipients: ['b'], kinds: ['function', 'function', 'function', 'function', 'function'] });

    writeFileSync(
      join(project, 'check.ts'),
      `import { MessageBus, Message, type StoredMessage, type StorageBackend } from 'modular-message-bus-library';
import { InMemoryStorageBackend } from 'modular-message-bus-library/backends';
import { IndividualRoutingPolicy } from 'modular-message-bus-library/routing-policies';
const storage: StorageBackend = new InMemoryStorageBackend();
const bus = new MessageBus(storage, new IndividualRoutingPolicy());
export const sent: Promise<StoredMessage> = bus.sendMessage(new Message('a', { ok: true }, ['b']));
// @ts-expect-error content must be JSON
new Message('a', () => 1);
`,
    );
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          lib: ['ES2023', 'DOM'],
          types: [],
        },
        files: ['check.ts'],
      }),
    );
    run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], project);
  }, 120_000);
});
