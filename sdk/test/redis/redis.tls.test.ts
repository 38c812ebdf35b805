/**
 * Redis over TLS with an ACL user (issue 9): a real redis-server serving TLS only, with a CA and a server
 * certificate made by openssl for this run, and users whose rights come from the ACL rule the README documents.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStorageBackend } from '../../src/backends/redis/index.js';
import { MessageBus } from '../../src/core/bus.js';
import { MessageBusError } from '../../src/core/errors.js';
import { Message } from '../../src/core/message.js';
import { BroadcastRoutingPolicy } from '../../src/routing-policies/broadcast.js';
import { storageBackendSuite } from '../../src/testing/index.js';
import { makeCertificates, type TestCertificates } from './certificates.js';
import { type RedisServer, startRedis } from './server.js';

/** The README's ACL rule for the default prefix, as one aclfile line per user (password and prefix substituted). */
function readmeAclRule(user: string, password: string, prefix: string): string {
  const readme = readFileSync(join(import.meta.dirname, '../../../README.md'), 'utf8');
  const rule = /^ACL SETUSER bus on >CHANGE-ME (.+)$/m.exec(readme)?.[1];
  if (!rule) throw new Error('the README has no line "ACL SETUSER bus on >CHANGE-ME …"');
  return `user ${user} on >${password} ${rule.replaceAll('mmb:', prefix)}`;
}

let certs: TestCertificates;
let server: RedisServer;
/** `rediss://<user>:<password>@127.0.0.1:<port>` */
let urlAs: (user: string) => string;

beforeAll(async () => {
  certs = makeCertificates();
  server = await startRedis({
    tls: certs.files,
    acl: [
      'user default off',
      'user admin on >admin-pw ~* &* +@all',
      readmeAclRule('bus', 'bus-pw', 'mmb:'),
      readmeAclRule('intruder', 'intruder-pw', 'other:'),
    ],
  });
  urlAs = (user) => server.url.replace('rediss://', `rediss://${user}:${user}-pw@`);
}, 30_000);
afterAll(async () => {
  await server?.dispose();
  certs?.dispose();
});

/** Runs `op`, returning the error it rejects with and how long that took. */
async function failure(op: () => Promise<unknown>): Promise<{ error: MessageBusError; ms: number }> {
  const started = performance.now();
  try {
    await op();
  } catch (error) {
    return { error: error as MessageBusError, ms: performance.now() - started };
  }
  throw new Error('expected the operation to fail');
}

// The whole conformance suite over TLS, as the ACL user limited to the default prefix.
storageBackendSuite('RedisStorageBackend over TLS, as an ACL user limited to its prefix', {
  create: ({ maxMessages }) => new RedisStorageBackend({ url: urlAs('bus'), tls: { ca: certs.ca }, maxMessages }),
  reopen: () => new RedisStorageBackend({ url: urlAs('bus'), tls: { ca: Buffer.from(certs.ca) } }),
  test: { describe, it },
});

describe('RedisStorageBackend TLS and ACL refusals', () => {
  it('refuses a server whose certificate does not verify, within commandTimeoutMs, naming the TLS reason', async () => {
    const cases = [
      { tls: { ca: certs.wrongCa }, reason: /self[- ]signed certificate in certificate chain/ },
      { tls: undefined, reason: /certificate/ }, // the system's CAs do not know the test CA
      { tls: { ca: certs.ca, servername: 'redis.example.com' }, reason: /ERR_TLS_CERT_ALTNAME_INVALID|altnames/ },
    ];
    for (const { tls, reason } of cases) {
      const storage = new RedisStorageBackend({ url: urlAs('bus'), tls, commandTimeoutMs: 1500 });
      try {
        for (const op of [() => storage.getRoom('r'), () => storage.putMember('r', { id: 'a', online: true })]) {
          const { error, ms } = await failure(op);
          expect(MessageBusError.is(error, 'STORAGE_FAILURE'), String(error)).toBe(true);
          expect(error.message).toMatch(/TLS handshake failed/);
          expect(error.message).toMatch(reason);
          expect(error.message).not.toContain('bus-pw');
          expect(ms).toBeLessThan(1500 + 500);
        }
      } finally {
        await storage.close();
      }
    }
  });

  it('a user limited to another prefix cannot read, write or watch the room', async () => {
    const owner = new MessageBus(new RedisStorageBackend({ url: urlAs('bus'), tls: { ca: certs.ca } }), new BroadcastRoutingPolicy(), {
      room: 'secret-room',
      logLevel: 'silent',
    });
    await owner.connectAgent('a');
    await owner.connectAgent('b');
    await owner.sendMessage(new Message('a', 'for members only'));
    // The intruder speaks TLS with the right CA and has a valid password: only the ACL stands in its way.
    const intruder = new RedisStorageBackend({ url: urlAs('intruder'), tls: { ca: certs.ca } });
    const raw = createClient({ url: urlAs('intruder'), socket: { tls: true, ca: certs.ca } });
    raw.on('error', () => {});
    try {
      for (const op of [
        () => intruder.history('secret-room', 0, 10),
        () => intruder.fetch('secret-room', 'b', 0, 10),
        () => intruder.getRoom('secret-room'),
        () => intruder.putMember('secret-room', { id: 'spy', online: true }),
        () => intruder.listRooms(),
      ]) {
        const { error } = await failure(op);
        expect(MessageBusError.is(error, 'STORAGE_FAILURE'), String(error)).toBe(true);
        expect(error.message).toMatch(/NOPERM/);
      }
      const seen: unknown[] = [];
      intruder.watch('secret-room', (m) => void seen.push(m.content));
      await raw.connect();
      await expect(raw.hGetAll('mmb:{secret-room}:msg')).rejects.toThrow(/NOPERM/);
      await expect(raw.eval("return redis.call('HGETALL', 'mmb:{secret-room}:msg')", { keys: ['other:x'] })).rejects.toThrow(
        /can't access at least one of the keys|NOPERM/,
      );
      await expect(raw.subscribe('mmb:{secret-room}:live', () => void seen.push('raw'))).rejects.toThrow(/NOPERM/);
      await owner.sendMessage(new Message('a', 'still for members only'));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(seen).toEqual([]);
      // Nothing the intruder tried changed the room.
      expect((await owner.agents()).map((m) => m.id)).toEqual(['a', 'b']);
      expect((await owner.history()).map((m) => m.content)).toEqual(['for members only', 'still for members only']);
      // Under its own prefix the same rule lets it work normally.
      const own = new RedisStorageBackend({ url: urlAs('intruder'), tls: { ca: certs.ca }, keyPrefix: 'other:' });
      await own.putMember('its-room', { id: 'x', online: true });
      expect(await own.listRooms()).toEqual(['its-room']);
      await own.close();
    } finally {
      await raw.close().catch(() => {});
      await intruder.close();
      await owner.close();
    }
  });

  it('a wrong password is refused with STORAGE_FAILURE, and bad tls options are refused up front', async () => {
    const storage = new RedisStorageBackend({
      url: server.url.replace('rediss://', 'rediss://bus:not-the-password@'),
      tls: { ca: certs.ca },
      commandTimeoutMs: 1500,
    });
    const { error } = await failure(() => storage.getRoom('r'));
    expect(MessageBusError.is(error, 'STORAGE_FAILURE')).toBe(true);
    expect(error.message).toMatch(/WRONGPASS/);
    expect(error.message).not.toContain('not-the-password');
    await storage.close();
    for (const options of [
      { url: 'redis://127.0.0.1:6379', tls: { ca: certs.ca } }, // TLS options on a plain url
      { url: 'rediss://127.0.0.1:6379', tls: { ca: certs.ca, rejectUnauthorized: false } }, // verification cannot be turned off
      { url: 'rediss://127.0.0.1:6379', tls: { ca: 42 } },
      { url: 'rediss://127.0.0.1:6379', tls: { cert: 'pem' } }, // a certificate without its key
      { url: 'rediss://127.0.0.1:6379', tls: { servername: '' } },
      { client: createClient(), tls: {} },
    ]) {
      expect(() => new RedisStorageBackend(options as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });
});
