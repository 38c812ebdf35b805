// Content with odd keys (__proto__, constructor, toString, "", NUL) and lone surrogates, sent over HTTP and over
// the agent WebSocket to a real wrangler dev, and read back every way a client can: the send's answer, the agent's
// HTTP fetch, the WebSocket replay, the admin history, and RemoteMessageBus. Each must equal what JSON.parse gives.
import type { StoredMessage } from 'modular-message-bus-library';
import { contentMismatch, oddContent } from 'modular-message-bus-library/testing';
import { WebSocket } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, freshRoom, startWrangler, tokenFor, type WranglerServer, waitFor } from './support.js';

let dev: WranglerServer;

beforeAll(async () => {
  dev = await startWrangler({ vars: { RATE_LIMIT_PER_SECOND: '10000', RATE_LIMIT_BURST: '10000' } });
});
afterAll(async () => {
  await dev?.stop();
});

/** A request with a JSON body (JSON.stringify escapes lone surrogates, so the body is valid UTF-8); the answer parsed by JSON.parse. */
async function call(
  method: string,
  path: string,
  token: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${dev.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: JSON.parse(await response.text()) };
}

/** Opens an agent socket and collects its frames, parsed by JSON.parse. */
async function agentSocket(room: string, agent: string, token: string, after?: number) {
  const query = new URLSearchParams({ agent, token, ...(after === undefined ? {} : { after: String(after) }) });
  const ws = new WebSocket(`${dev.url.replace('http', 'ws')}/v1/rooms/${room}/ws?${query}`);
  const frames: Array<Record<string, unknown>> = [];
  ws.onmessage = (event) => void frames.push(JSON.parse(String(event.data)));
  await waitFor(() => ws.readyState === WebSocket.OPEN, `${agent}'s socket to open`);
  return { ws, frames };
}

/** Checks each message's content against the corpus, cycling through it: the corpus was sent once over HTTP, then once over WebSocket. */
function expectCorpus(messages: readonly { content: unknown }[] | undefined, how: string): void {
  const corpus = oddContent();
  expect(messages, how).toHaveLength(corpus.length * 2);
  messages?.forEach((message, i) => {
    const { name, value } = corpus[i % corpus.length] as { name: string; value: unknown };
    expect(contentMismatch(message.content, value), `${name}, ${how} (#${i + 1})`).toBeNull();
  });
}

describe('odd content over the worker', () => {
  it('round-trips exactly over HTTP and WebSocket, read back over both and by RemoteMessageBus', async () => {
    const room = freshRoom('odd');
    const alice = await tokenFor(dev.secret, 'alice', room);
    const bob = await tokenFor(dev.secret, 'bob', room);
    const admin = await tokenFor(dev.secret, 'admin', '*', 'admin');
    expect((await call('PUT', `/v1/rooms/${room}`, admin, { routing: 'broadcast' })).status).toBe(200);
    expect((await call('POST', `/v1/rooms/${room}/agents/alice/connect`, alice)).status).toBe(200);
    expect((await call('POST', `/v1/rooms/${room}/agents/bob/connect`, bob)).status).toBe(200);
    const corpus = oddContent();

    const answers: StoredMessage[] = [];
    for (const { value } of corpus) {
      const sent = await call('POST', `/v1/rooms/${room}/messages`, alice, { content: value });
      expect(sent.status).toBe(201);
      answers.push((sent.json.message ?? sent.json) as StoredMessage);
    }
    const sender = await agentSocket(room, 'alice', alice);
    for (const [ref, { value }] of corpus.entries()) sender.ws.send(JSON.stringify({ type: 'send', ref, content: value }));
    await waitFor(() => sender.frames.filter((f) => f.type === 'ok' || f.type === 'error').length === corpus.length, 'every send answered');
    // A WebSocket send is answered with its id and timestamp (docs/worker.md): the message stored under that id,
    // read back from the history, is its answer.
    const idOfRef = new Map<unknown, number>();
    for (const frame of sender.frames.filter((f) => f.type === 'ok' || f.type === 'error')) {
      expect(frame.type, JSON.stringify(frame)).toBe('ok');
      idOfRef.set(frame.ref, frame.id as number);
    }
    sender.ws.close();

    const fetched = await call('GET', `/v1/rooms/${room}/messages?after=0&limit=100`, bob);
    expectCorpus(fetched.json.messages as StoredMessage[], "in bob's HTTP fetch");
    const history = await call('GET', `/v1/rooms/${room}/history?after=0&limit=100`, admin);
    expectCorpus(history.json.messages as StoredMessage[], 'in the admin history');
    const stored = new Map((history.json.messages as StoredMessage[]).map((m) => [m.id, m]));
    for (const ref of corpus.keys()) answers.push(stored.get(idOfRef.get(ref) as number) as StoredMessage);
    expectCorpus(answers, 'in the answers to the sends');

    const replay = await agentSocket(room, 'bob', bob, 0);
    await waitFor(() => replay.frames.filter((f) => f.type === 'message').length === corpus.length * 2, 'the WebSocket replay');
    replay.ws.close();
    expectCorpus(
      replay.frames.filter((f) => f.type === 'message').map((f) => f.message as StoredMessage),
      'in the WebSocket replay',
    );

    const remote = client(dev.url, room, bob);
    expectCorpus(await remote.fetchMessages('bob', 0, { limit: 100 }), 'fetched by RemoteMessageBus');
    const live: StoredMessage[] = [];
    const stop = remote.subscribe('bob', (m) => void live.push(m), { after: 0 });
    await waitFor(() => live.length === corpus.length * 2, 'RemoteMessageBus subscribe');
    stop();
    expectCorpus(live, 'delivered by RemoteMessageBus subscribe');
    await remote.close();
  });
});
