// RemoteMessageBus's conversations against a real `wrangler dev`, the same checks as MessageBus's (sdk/test/
// conversations.test.ts and the storage suite's conversation cases): request/reply between two clients, TIMEOUT and
// ABORTED with the request id, the earliest reply for a re-sent request, presence left as it was, fetchThread and
// fetchLatest, and one refusal for a hidden or missing parent.
import { Message, MessageBusError, type StoredMessage } from 'modular-message-bus-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, freshRoom, startWrangler, tokenFor, type WranglerServer } from './support.js';

let dev: WranglerServer;

beforeAll(async () => {
  dev = await startWrangler({ vars: { RATE_LIMIT_PER_SECOND: '10000', RATE_LIMIT_BURST: '10000' } });
});
afterAll(async () => {
  await dev?.stop();
});

/** A room routed by `addressed` with a planner and a researcher, each on its own client. */
async function crew() {
  const room = freshRoom('conv');
  const admin = client(dev.url, room, await tokenFor(dev.secret, 'ops', room, 'admin'));
  const planner = client(dev.url, room, await tokenFor(dev.secret, 'planner', room));
  const researcher = client(dev.url, room, await tokenFor(dev.secret, 'researcher', room));
  await planner.connectAgent('planner');
  await researcher.connectAgent('researcher');
  const put = await fetch(`${dev.url}/v1/rooms/${room}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${await tokenFor(dev.secret, 'ops', room, 'admin')}`, 'content-type': 'application/json' },
    body: JSON.stringify({ routing: 'addressed' }),
  });
  expect(put.status).toBe(200);
  const online = async () => Object.fromEntries((await admin.agents()).map((a) => [a.id, a.online]));
  const close = () => Promise.all([admin.close(), planner.close(), researcher.close()]);
  return { room, admin, planner, researcher, online, close };
}

const ids = (messages: readonly StoredMessage[]) => messages.map((m) => m.id);

describe('RemoteMessageBus conversations against wrangler dev', () => {
  it('request resolves with the reply another client sends, and leaves presence as it was', async () => {
    const { planner, researcher, online, close } = await crew();
    const stop = researcher.subscribe('researcher', async (m) => {
      if (m.metadata?.kind !== 'question') return;
      await researcher.sendMessage(new Message('researcher', 'noise', ['planner']));
      await researcher.sendMessage(new Message('researcher', `re: ${String(m.content)}`, ['planner'], { inReplyTo: m.id }));
    });
    const before = await online();
    const reply = await planner.request(new Message('planner', 'which sources?', ['researcher'], { metadata: { kind: 'question' } }), {
      timeoutMs: 20_000,
    });
    expect(reply).toMatchObject({ sender: 'researcher', content: 're: which sources?', inReplyTo: 1, thread: 1 });
    // The watch socket is gone and changed nothing: the planner is online through its HTTP connect only.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await online()).toEqual(before);
    stop();
    await close();
  });

  it('TIMEOUT and ABORTED carry the stored request id; an already aborted signal stores nothing', async () => {
    const { planner, researcher, online, close } = await crew();
    const before = await online();
    const timeout = await planner.request(new Message('planner', 'anyone?', ['researcher']), { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(MessageBusError.is(timeout, 'TIMEOUT')).toBe(true);
    const requestId = (timeout as MessageBusError).details.requestId as number;
    expect(ids(await researcher.fetchMessages('researcher', 0))).toEqual([requestId]);

    const controller = new AbortController();
    const pending = planner
      .request(new Message('planner', 'still there?', ['researcher']), { signal: controller.signal })
      .catch((e: unknown) => e);
    setTimeout(() => controller.abort('gave up'), 300);
    const aborted = (await pending) as MessageBusError;
    expect(aborted.code).toBe('ABORTED');
    expect(aborted.details.requestId).toBe(requestId + 1);

    const done = new AbortController();
    done.abort();
    const early = await planner
      .request(new Message('planner', 'never sent', ['researcher']), { signal: done.signal })
      .catch((e: unknown) => e);
    expect(MessageBusError.is(early, 'ABORTED')).toBe(true);
    expect((early as MessageBusError).details.requestId).toBeUndefined();
    expect(ids(await researcher.fetchMessages('researcher', 0))).toEqual([requestId, requestId + 1]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await online()).toEqual(before);
    await close();
  });

  it('a request re-sent with its idempotency key resolves with the earliest reply already stored', async () => {
    const { planner, researcher, close } = await crew();
    const options = { idempotencyKey: 'ask-1' };
    const asked = await planner.sendMessage(new Message('planner', 'q', ['researcher'], options));
    const first = await researcher.sendMessage(new Message('researcher', 'first', ['planner'], { inReplyTo: asked.id }));
    await researcher.sendMessage(new Message('researcher', 'second', ['planner'], { inReplyTo: asked.id }));
    expect(await planner.request(new Message('planner', 'q', ['researcher'], options), { timeoutMs: 20_000 })).toEqual(first);
    await close();
  });

  it('fetchThread and fetchLatest, and one refusal for a hidden or missing parent', async () => {
    const { room, planner, researcher, close } = await crew();
    const critic = client(dev.url, room, await tokenFor(dev.secret, 'critic', room));
    await critic.connectAgent('critic');
    const root = await planner.sendMessage(new Message('planner', 'root', ['researcher'])); // 1
    await researcher.sendMessage(new Message('researcher', 'answer', ['planner', 'critic'], { inReplyTo: root.id })); // 2
    await planner.sendMessage(new Message('planner', 'all hands')); // 3
    expect(ids(await planner.fetchThread('planner', root.id))).toEqual([1, 2]);
    expect(ids(await critic.fetchThread('critic', root.id))).toEqual([2]);
    expect(ids(await critic.fetchThread('critic', root.id, { after: 2 }))).toEqual([]);
    expect(ids(await critic.fetchLatest('critic'))).toEqual([2, 3]);
    expect(ids(await critic.fetchLatest('critic', { limit: 1, before: 3 }))).toEqual([2]);
    const hidden = await critic.sendMessage(new Message('critic', 'x', ['planner'], { inReplyTo: root.id })).catch((e: unknown) => e);
    const missing = await critic.sendMessage(new Message('critic', 'x', ['planner'], { inReplyTo: 99 })).catch((e: unknown) => e);
    expect(MessageBusError.is(hidden, 'INVALID_ARGUMENT') && MessageBusError.is(missing, 'INVALID_ARGUMENT')).toBe(true);
    expect((hidden as Error).message).toBe((missing as Error).message);
    await expect(critic.fetchThread('planner', root.id)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(critic.fetchThread('critic', 0)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await critic.close();
    await close();
  });
});
