// A bounded, seeded fuzz run against a real `wrangler dev` (issue 9): a few thousand malformed HTTP requests and
// WebSocket frames, mixed with valid ones. Every answer must be a 2xx for a request that is valid, or a documented 4xx
// with a typed JSON error (an error frame on a socket), never a 5xx; and at the end the room's history and ids are
// exactly what the accepted sends produced. FUZZ_SEED=<n> replays a run; every failure message names the seed.
import { sign } from 'hono/jwt';
import { WebSocket } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../sdk/test/support/seeded-random.js';
import { STATUS } from '../../src/errors.js';
import { startWrangler, type WranglerServer, waitFor } from './support.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20_260_901);
const HTTP_CASES = 2400;
const FRAME_CASES = 1600;
const CONCURRENCY = 8;
const ROOM = 'fuzz';
const MAX_BODY_BYTES = 16_384;

type Json = Record<string, unknown>;
type Expectation = 'valid' | 'invalid' | 'any';

const random = mulberry32(SEED);
const int = (n: number) => Math.floor(random() * n);
const pick = <T>(list: readonly T[]): T => list[int(list.length)] as T;
const chance = (p: number) => random() < p;
const tag = (what: string) => `[fuzz seed=${SEED}] ${what}`;

const ODD_STRINGS = [
  '',
  ' ',
  '__proto__',
  'constructor',
  'toString',
  '\u0000',
  '\ud800',
  '\udfff',
  '😀',
  'a'.repeat(200),
  '../..',
  '%00',
  '<script>',
];
const LENIENT_NUMBERS = ['0x2', ' 1', '1e3', '', '+1', '1.0', '-1', '1,2', 'NaN', 'Infinity', '99999999999999999999', '٣', '1 '];

/** A small random JSON value (at most 4 levels: never over MAX_CONTENT_DEPTH). */
function junk(depth = 0): unknown {
  const roll = int(depth >= 4 ? 4 : 7);
  if (roll === 0) return pick(ODD_STRINGS);
  if (roll === 1) return pick([0, -0, 1, -1, 0.5, 1e308, -1e-308, 2 ** 53, 42]);
  if (roll === 2) return pick([true, false, null]);
  if (roll === 3) return `s${int(1000)}`;
  if (roll === 4) return Array.from({ length: int(4) }, () => junk(depth + 1));
  const out: Json = {};
  for (let i = int(4); i > 0; i--) out[pick([...ODD_STRINGS, 'k', 'type', 'content'])] = junk(depth + 1);
  return out;
}

/** JSON text nested `levels` deep, built as text (a 5,000-level value is cheap this way). */
function deepText(levels: number): string {
  const open = chance(0.5) ? '[' : '{"a":';
  const close = open === '[' ? ']' : '}';
  return `${open.repeat(levels)}1${close.repeat(levels)}`;
}
const deepLevels = () => pick([65, 100, 1000, 5000]);

interface Tokens {
  alice: string;
  bob: string;
  admin: string;
  /** An agent token for a member-to-be with a groups claim. */
  carol: string;
  forged: string;
}

interface HttpCase {
  kind: string;
  expect: Expectation;
  method: string;
  path: string;
  token?: string | null;
  body?: string;
}

/** One random HTTP request, and whether it must succeed, must fail, or may do either. */
function httpCase(i: number, t: Tokens): HttpCase {
  const room = `/v1/rooms/${ROOM}`;
  const send = (body: string, token = t.alice): HttpCase => ({
    kind: 'send',
    expect: 'invalid',
    method: 'POST',
    path: `${room}/messages`,
    token,
    body,
  });
  switch (int(14)) {
    case 0:
    case 1: {
      const key = chance(0.2) ? { idempotencyKey: `key-${int(30)}` } : {};
      return { ...send(JSON.stringify({ content: { n: i, s: `s${int(1e6)}` }, ...key })), kind: 'send-valid', expect: 'valid' };
    }
    case 2: {
      const field = pick(['content', 'recipients', 'idempotencyKey', 'sender']);
      const rest = field === 'content' ? '' : '"content":"x",';
      const token = field === 'sender' ? t.admin : t.alice;
      return { ...send(`{${rest}"${field}":${deepText(deepLevels())}}`, token), kind: `send-deep-${field}` };
    }
    case 3: {
      const bodies = [
        { recipients: ['bob'] },
        { content: 'x', recipients: pick(['bob', 1, null, {}, [1], [['bob']], [{}]]) },
        { content: 'x', idempotencyKey: pick([1, null, [], {}, true]) },
        { content: 'x', sender: 'bob' },
        { content: 'x', recipients: ['nobody-here'] },
      ];
      return { ...send(JSON.stringify(pick(bodies))), kind: 'send-badtype' };
    }
    case 4: {
      const body: Json = { ...(junk() as Json) };
      if (chance(0.5)) body.content = junk();
      return { ...send(JSON.stringify(body), pick([t.alice, t.bob, t.admin])), kind: 'send-junk', expect: 'any' };
    }
    case 5: {
      const text = pick(['{"content":', '[1,2]', '1', '"x"', 'null', '', '\ufeff{}', '{"content":"x"', '{content:"x"}', '\u0000\u0001']);
      return { ...send(text), kind: 'send-badjson' };
    }
    case 6: {
      const big = chance(0.5)
        ? JSON.stringify({ content: 'x', pad: 'y'.repeat(MAX_BODY_BYTES) })
        : JSON.stringify({ content: 'z'.repeat(5000) });
      return { ...send(big), kind: 'send-toolarge' };
    }
    case 7: {
      const malleable = `${t.alice}${pick(['=', '=='])}`;
      const token = pick([null, '', 'garbage', t.forged, malleable, `${t.alice}.x`]);
      const path = pick([`${room}/messages`, `${room}/messages?token=${t.alice}`, `/metrics?token=${t.admin}`]);
      const method = path.includes('/metrics') ? 'GET' : 'POST';
      return {
        kind: 'auth-bad',
        expect: 'invalid',
        method,
        path,
        token: path.includes('?token=') ? pick([null, t.alice]) : token,
        body: method === 'POST' ? '{"content":"x"}' : undefined,
      };
    }
    case 8: {
      const [path, token] = pick([
        [`${room}/messages`, t.bob],
        [`${room}/history`, t.admin],
      ] as const);
      const param = pick(['after', 'limit']);
      return {
        kind: 'query-bad',
        expect: 'invalid',
        method: 'GET',
        path: `${path}?${param}=${encodeURIComponent(pick(LENIENT_NUMBERS))}`,
        token,
      };
    }
    case 9:
      return {
        kind: 'fetch-valid',
        expect: 'valid',
        method: 'GET',
        path: `${room}/messages?after=${int(50)}&limit=${1 + int(1000)}`,
        token: t.bob,
      };
    case 10: {
      const groups = pick([
        deepText(deepLevels()),
        '"g"',
        '[1]',
        '{}',
        JSON.stringify(Array.from({ length: 101 }, (_, k) => `g${k}`)),
        '["bad group"]',
      ]);
      const [agent, token] = pick([
        ['bob', t.bob],
        ['carol', t.carol],
        ['ghost-1', t.admin],
      ] as const);
      // bob's token has no groups claim; carol's may not pick "outside".
      const body = agent === 'carol' && chance(0.5) ? '{"groups":["outside"]}' : `{"groups":${groups}}`;
      return { kind: 'connect-bad', expect: 'invalid', method: 'POST', path: `${room}/agents/${agent}/connect`, token, body };
    }
    case 11: {
      const upTo = pick([deepText(deepLevels()), '"1"', '-1', '1.5', 'null', '[1]', '1e400', '{}', '9007199254740993']);
      return { kind: 'ack-bad', expect: 'invalid', method: 'POST', path: `${room}/agents/bob/ack`, token: t.bob, body: `{"upTo":${upTo}}` };
    }
    case 12: {
      // (Leaving a group one is not in changes nothing and is allowed, so the claim cases only join.)
      const [method, agent, group, token] = pick([
        ['PUT', 'bob', 'research', t.bob],
        ['PUT', 'carol', 'outside', t.carol],
        [pick(['PUT', 'DELETE']), 'ghost-2', 'g', t.admin],
        [pick(['PUT', 'DELETE']), 'bob', 'bad%20group', t.admin],
        [pick(['PUT', 'DELETE']), 'alice', 'x', t.bob],
      ] as const);
      return { kind: 'groups-bad', expect: 'invalid', method, path: `${room}/agents/${agent}/groups/${group}`, token };
    }
    case 13: {
      const [method, path, token, body] = pick([
        ['PUT', room, t.admin, `{"routing":${pick([deepText(deepLevels()), '1', 'null', '"chaos"', '["broadcast"]'])}}`],
        ['PUT', room, t.alice, '{"routing":"individual"}'],
        ['PATCH', `${room}/messages`, t.alice, '{}'],
        ['GET', `/v1/${pick(['', '%00', '..%2F..', '%3Cscript%3E', '__proto__', '%F0%9F%98%80', '%ED%A0%80'])}x`, t.admin, undefined],
        ['GET', `/v1/rooms/bad%20room/messages`, t.alice, undefined],
        ['DELETE', `${room}/agents/ghost-${int(5)}`, t.admin, undefined],
        ['GET', '/v1/rooms', t.alice, undefined],
      ] as const);
      return { kind: 'route-bad', expect: 'invalid', method, path, token, body };
    }
  }
  throw new Error('unreachable');
}

let dev: WranglerServer;
let tokens: Tokens;

beforeAll(async () => {
  dev = await startWrangler({
    vars: {
      RATE_LIMIT_PER_SECOND: '1000000',
      RATE_LIMIT_BURST: '1000000',
      MAX_BODY_BYTES: String(MAX_BODY_BYTES),
      MAX_CONTENT_BYTES: '4096',
    },
  });
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const agent = (sub: string, extra: Json = {}) => sign({ sub, room: ROOM, role: 'agent', exp, ...extra }, dev.secret, 'HS256');
  tokens = {
    alice: await agent('alice'),
    bob: await agent('bob'),
    carol: await agent('carol', { groups: ['research'] }),
    admin: await sign({ sub: 'fuzz-admin', room: '*', role: 'admin', exp }, dev.secret, 'HS256'),
    forged: await sign({ sub: 'alice', room: ROOM, role: 'agent', exp }, 'not-the-secret', 'HS256'),
  };
});
afterAll(async () => {
  await dev?.stop();
});

async function call(c: HttpCase): Promise<{ status: number; json: Json | undefined; text: string }> {
  const headers: Record<string, string> = {};
  if (c.token) headers.authorization = `Bearer ${c.token}`;
  if (c.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${dev.url}${c.path}`, { method: c.method, headers, body: c.body });
  const text = await response.text();
  let json: Json | undefined;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text };
}

/** A documented 4xx: the status of its typed code (errors.ts), with a message. */
function isTypedRefusal(status: number, json: Json | undefined): boolean {
  const error = json?.error as { code?: string; message?: unknown } | undefined;
  if (!error || typeof error.code !== 'string' || typeof error.message !== 'string') return false;
  return status >= 400 && status < 500 && STATUS[error.code as keyof typeof STATUS] === status;
}

interface StoredJson {
  id: number;
  sender: string;
  content: unknown;
}

describe(`fuzz (seed ${SEED})`, () => {
  it('answers every malformed request and frame with a typed 4xx, and stores exactly what valid requests sent', async () => {
    const admin = tokens.admin;
    const setup = async (method: string, path: string, token: string, body?: unknown) => {
      const res = await call({
        kind: 'setup',
        expect: 'valid',
        method,
        path,
        token,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      expect(res.status, tag(`${method} ${path}: ${res.text}`)).toBeLessThan(300);
    };
    await setup('PUT', `/v1/rooms/${ROOM}`, admin, { routing: 'broadcast' });
    await setup('POST', `/v1/rooms/${ROOM}/agents/alice/connect`, tokens.alice);
    await setup('POST', `/v1/rooms/${ROOM}/agents/bob/connect`, tokens.bob);
    await setup('POST', `/v1/rooms/${ROOM}/agents/carol/connect`, tokens.carol, { groups: ['research'] });

    // bob's socket: the frames are fuzzed on it, and it must see every broadcast it did not send.
    const received: StoredJson[] = [];
    const replies: Json[] = [];
    const socket = new WebSocket(`${dev.url.replace('http', 'ws')}/v1/rooms/${ROOM}/ws?agent=bob&after=0`, [`bearer.${tokens.bob}`]);
    let closedWith: number | undefined;
    socket.onclose = (event) => void (closedWith = event.code);
    socket.onmessage = (event) => {
      const frame = JSON.parse(String(event.data)) as Json;
      if (frame.type === 'message') received.push(frame.message as StoredJson);
      else if (frame.type !== 'audience') replies.push(frame);
    };
    await waitFor(() => socket.readyState === WebSocket.OPEN || closedWith !== undefined, 'the socket');
    expect(closedWith, tag('the fuzz socket opened')).toBeUndefined();

    // --- HTTP ---
    const cases = Array.from({ length: HTTP_CASES }, (_, i) => httpCase(i, tokens));
    const stored = new Map<number, StoredJson>();
    const failures: string[] = [];
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < cases.length; i = next++) {
        const c = cases[i] as HttpCase;
        const res = await call(c);
        const where = `#${i} ${c.kind} ${c.method} ${c.path.slice(0, 80)} → ${res.status} ${res.text.slice(0, 160)}`;
        const ok = res.status >= 200 && res.status < 300;
        if (ok && c.expect === 'invalid') failures.push(`accepted an invalid request: ${where}`);
        else if (!ok && c.expect === 'valid') failures.push(`refused a valid request: ${where}`);
        else if (!ok && !isTypedRefusal(res.status, res.json)) failures.push(`not a typed 4xx: ${where}`);
        if (res.status === 201 && c.path.endsWith('/messages')) {
          const message = res.json as unknown as StoredJson;
          stored.set(message.id, { id: message.id, sender: message.sender, content: message.content });
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    expect(failures.slice(0, 10), tag(`${failures.length} bad HTTP answers`)).toEqual([]);

    // --- WebSocket frames ---
    // An `ok` answers a send with the id (and timestamp) only: what was stored is what the frame said.
    const sentByRef = new Map<string, Json>();
    const sendFrame = (data: string | Uint8Array) => {
      if (typeof data === 'string') {
        try {
          const frame = JSON.parse(data) as Json;
          if (typeof frame?.ref === 'string') sentByRef.set(frame.ref, frame);
        } catch {}
      }
      socket.send(data);
    };
    const expectations = new Map<string, Expectation>();
    let unnamed = 0;
    for (let i = 0; i < FRAME_CASES; i++) {
      const ref = `f-${i}`;
      const roll = int(10);
      if (roll === 0) {
        sendFrame(JSON.stringify({ type: 'send', ref, content: { w: i } }));
        expectations.set(ref, 'valid');
      } else if (roll === 1) {
        sendFrame(JSON.stringify({ type: pick(['ping', 'ack']), ref, upTo: 0 }));
        expectations.set(ref, 'valid');
      } else if (roll === 2) {
        const field = pick(['content', 'recipients', 'idempotencyKey', 'upTo']);
        const text = `{"type":"${field === 'upTo' ? 'ack' : 'send'}","ref":"${ref}","content":"x","${field}":${deepText(deepLevels())}}`;
        sendFrame(text);
        // Over MAX_BODY_BYTES it is refused unread, so its answer cannot carry the ref.
        if (text.length > MAX_BODY_BYTES) unnamed++;
        else expectations.set(ref, 'invalid');
      } else if (roll === 3) {
        sendFrame(pick(['not json', '[]', '1', 'null', '"send"', '{"type":', '']));
        unnamed++;
      } else if (roll === 4) {
        sendFrame(new Uint8Array([0x7b, 0x7d, int(256)]));
        unnamed++;
      } else if (roll === 5) {
        sendFrame(`{"type":"ping","ref":${pick([deepText(deepLevels()), '{}', '[1]', `"${'r'.repeat(200)}"`, 'true'])}}`);
        unnamed++;
      } else if (roll === 6) {
        const bad = pick([
          { type: 'send', content: 'x', recipients: pick(['bob', [1], [['x']], null]) },
          { type: 'send' },
          { type: 'ack', upTo: pick(['1', -1, 1.5, null]) },
          { type: pick(['dance', '', 'SEND', null, 1]) },
          { type: 'send', content: 'z'.repeat(5000) },
          // Stream frames: checked for shape before any stream is looked up.
          { type: 'stream-start', content: pick([42, { a: 1 }, true, ['x']]) },
          { type: 'stream-write', streamId: pick([7, '', null, 'r'.repeat(200)]), text: 'x' },
          { type: 'stream-write', streamId: 'nope', text: pick([7, null, ['x'], { t: 'x' }]) },
          { type: 'stream-write', streamId: 'nope', seq: pick([0, -1, 1.5, '1']), text: 'x' },
          { type: 'stream-end', streamId: 'nope', content: JSON.parse(deepText(pick([100, 1000]))) },
          { type: 'stream-abort', streamId: 'nope', reason: pick([7, { r: 1 }]) },
        ]);
        sendFrame(JSON.stringify({ ...bad, ref }));
        expectations.set(ref, 'invalid');
      } else if (roll === 7) {
        sendFrame(JSON.stringify({ type: 'send', ref, content: 'x', pad: 'y'.repeat(MAX_BODY_BYTES) }));
        // Refused unread (too long): the answer cannot carry the ref.
        unnamed++;
      } else {
        const frame: Json = { ...(junk() as Json), type: pick(['send', 'ack', 'ping', 'x']), ref };
        if (chance(0.5)) frame.content = junk();
        sendFrame(JSON.stringify(frame));
        expectations.set(ref, 'any');
      }
    }
    const total = expectations.size + unnamed;
    await waitFor(() => replies.length >= total, `${total} frame answers`, 40_000);
    const frameFailures: string[] = [];
    const named = new Map(replies.filter((r) => typeof r.ref === 'string').map((r) => [r.ref as string, r]));
    for (const [ref, expectation] of expectations) {
      const reply = named.get(ref);
      const error = reply?.error as { code?: string; message?: unknown } | undefined;
      const where = `${ref} (${expectation}) → ${String(JSON.stringify(reply)).slice(0, 160)}`;
      if (!reply || (reply.type !== 'ok' && reply.type !== 'error')) frameFailures.push(`no answer: ${where}`);
      else if (reply.type === 'ok' && expectation === 'invalid') frameFailures.push(`accepted an invalid frame: ${where}`);
      else if (reply.type === 'error' && expectation === 'valid') frameFailures.push(`refused a valid frame: ${where}`);
      else if (
        reply.type === 'error' &&
        !((STATUS[error?.code as keyof typeof STATUS] ?? 500) < 500 && typeof error?.message === 'string')
      ) {
        frameFailures.push(`not a typed 4xx error frame: ${where}`);
      }
      if (reply?.type === 'ok' && typeof reply.id === 'number') {
        stored.set(reply.id, { id: reply.id, sender: 'bob', content: sentByRef.get(ref)?.content });
      }
    }
    const nullRefs = replies.filter((r) => r.ref === null);
    for (const reply of nullRefs)
      if (reply.type !== 'error') frameFailures.push(`a null-ref answer that is not an error: ${JSON.stringify(reply)}`);
    expect(frameFailures.slice(0, 10), tag(`${frameFailures.length} bad frame answers`)).toEqual([]);
    expect(nullRefs.length, tag('one ref-less error per unnamed frame')).toBe(unnamed);
    expect(replies.length, tag('exactly one answer per frame')).toBe(total);
    expect(closedWith, tag('the fuzzed socket stayed open')).toBeUndefined();

    // --- the room afterwards ---
    const history: StoredJson[] = [];
    for (let after = 0; ; ) {
      const page = await call({
        kind: 'history',
        expect: 'valid',
        method: 'GET',
        path: `/v1/rooms/${ROOM}/history?after=${after}&limit=1000`,
        token: admin,
      });
      const messages = (page.json?.messages ?? []) as StoredJson[];
      history.push(...messages.map(({ id, sender, content }) => ({ id, sender, content })));
      if (messages.length < 1000) break;
      after = messages.at(-1)?.id ?? after;
    }
    expect(history.length, tag('valid sends were stored')).toBeGreaterThan(HTTP_CASES / 14);
    expect(
      history.map((m) => m.id),
      tag('ids are 1..n, gap-free'),
    ).toEqual(history.map((_, k) => k + 1));
    expect(history, tag('the history is exactly what the accepted sends returned')).toEqual(
      [...stored.values()].sort((a, b) => a.id - b.id),
    );
    // bob's socket got every message it did not send itself (broadcast), once, in id order.
    await waitFor(() => received.length >= history.filter((m) => m.sender !== 'bob').length, 'bob’s deliveries', 20_000);
    expect(
      received.map((m) => m.id),
      tag('bob’s live deliveries'),
    ).toEqual(history.filter((m) => m.sender !== 'bob').map((m) => m.id));
    socket.close(1000);
  }, 120_000);
});
