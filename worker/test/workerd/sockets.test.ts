import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { ChatRoomBase } from '../../src/chat-room.js';
import { adminToken, api, freshRoom, join, messagesOf, openSocket, token } from './helpers.js';

describe('WebSockets', () => {
  it('replays from after, then delivers live with no gap, and answers frames with their ref', async () => {
    const room = freshRoom();
    const { alice, bob } = await join(room, 'alice', 'bob');
    for (let i = 1; i <= 3; i++) await api('POST', `/v1/rooms/${room}/messages`, { token: alice, body: { content: i } });
    const socket = await openSocket(`/v1/rooms/${room}/ws?agent=bob&after=1&token=${bob}`);
    await socket.until((f) => messagesOf(f).length === 2, 'the replay');
    await api('POST', `/v1/rooms/${room}/messages`, { token: alice, body: { content: 4 } });
    await socket.until((f) => messagesOf(f).length === 3, 'the live message');
    expect(messagesOf(socket.frames).map((m) => m.id)).toEqual([2, 3, 4]);
    socket.send({ type: 'send', ref: 'r1', content: 'from bob' });
    socket.send({ type: 'ack', ref: 'r2', upTo: 4 });
    socket.send({ type: 'send', ref: 'r3', content: 'x', recipients: ['alice'] });
    socket.ws.send('not json');
    socket.send({ type: 'dance', ref: 'r4' });
    await socket.until((f) => f.filter((x) => x.type !== 'message').length === 5, 'five replies');
    // Frames are handled concurrently; each reply is matched by its ref.
    const reply = (ref: string | null) => socket.frames.find((f) => f.type !== 'message' && f.ref === ref);
    expect(reply('r1')).toEqual({ type: 'ok', ref: 'r1', id: 5, timestamp: expect.any(Number), thread: 5 });
    expect(reply('r2')).toEqual({ type: 'ok', ref: 'r2', cursor: 4 });
    expect(reply('r3')).toMatchObject({ type: 'error', error: { code: 'INVALID_MESSAGE' } });
    expect(reply(null)).toMatchObject({ type: 'error', error: { code: 'INVALID_MESSAGE' } });
    expect(reply('r4')).toMatchObject({ type: 'error', error: { code: 'INVALID_MESSAGE' } });
    // bob does not receive its own broadcast.
    expect(messagesOf(socket.frames).map((m) => m.id)).toEqual([2, 3, 4]);
    socket.ws.close(1000);
  });

  it('answers frames sent back to back one after another: each once, with ids in the order of the answers', async () => {
    const room = freshRoom();
    const { alice, bob } = await join(room, 'alice', 'bob');
    const watcher = await openSocket(`/v1/rooms/${room}/ws?agent=bob&token=${bob}`);
    // As a client with frames in flight sends them: answered in one batch (their appends share a commit).
    const sender = await openSocket(`/v1/rooms/${room}/ws?agent=alice&token=${alice}`);
    for (let i = 0; i < 5; i++) sender.send({ type: 'send', ref: i, content: i });
    await sender.until((f) => f.length === 5, 'five oks');
    // The runtime may hand frames over out of order (see write-order.ts): each is answered once, in the order stored.
    expect(sender.frames.map((f) => f.type)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect(sender.frames.map((f) => f.id)).toEqual([1, 2, 3, 4, 5]);
    expect(sender.frames.map((f) => f.ref).sort()).toEqual([0, 1, 2, 3, 4]);
    await watcher.until((f) => messagesOf(f).length === 5, 'every send');
    const byId = new Map(sender.frames.map((f) => [f.id, f.ref]));
    expect(messagesOf(watcher.frames).map((m) => [m.id, m.content])).toEqual([1, 2, 3, 4, 5].map((id) => [id, byId.get(id)]));
    sender.ws.close(1000);
    watcher.ws.close(1000);
  });

  it('refuses a bad token, another agent and a non-member with an error frame and a close code', async () => {
    const room = freshRoom();
    const { alice } = await join(room, 'alice');
    const noToken = await openSocket(`/v1/rooms/${room}/ws?agent=alice`);
    expect((await noToken.closed).code).toBe(4401);
    expect(noToken.frames[0]).toMatchObject({ type: 'error', error: { code: 'UNAUTHORIZED' } });
    const asBob = await openSocket(`/v1/rooms/${room}/ws?agent=bob&token=${alice}`);
    expect((await asBob.closed).code).toBe(4403);
    const stranger = await token('stranger', room);
    const nonMember = await openSocket(`/v1/rooms/${room}/ws?agent=stranger&token=${stranger}`);
    expect((await nonMember.closed).code).toBe(4404);
    expect(nonMember.frames[0]).toMatchObject({ type: 'error', error: { code: 'UNKNOWN_AGENT' } });
    const events = await openSocket(`/v1/rooms/${room}/events?token=${alice}`);
    expect((await events.closed).code).toBe(4403);
  });

  it('derives presence from sockets and reports it on the events feed', async () => {
    const room = freshRoom();
    const { alice, bob } = await join(room, 'alice', 'bob');
    await api('POST', `/v1/rooms/${room}/messages`, { token: alice, body: { content: 'before' } });
    await api('POST', `/v1/rooms/${room}/agents/bob/disconnect`, { token: bob });
    const admin = await adminToken();
    const feed = await openSocket(`/v1/rooms/${room}/events?after=0&token=${admin}`);
    await feed.until((f) => messagesOf(f).length === 1, 'the history replay');
    const one = await openSocket(`/v1/rooms/${room}/ws?agent=bob&token=${bob}`);
    const two = await openSocket(`/v1/rooms/${room}/ws?agent=bob&token=${bob}`);
    await feed.until((f) => f.some((x) => x.type === 'presence' && x.agent === 'bob' && x.online), 'bob online');
    one.ws.close(1000);
    await one.closed;
    await new Promise((resolve) => setTimeout(resolve, 100));
    let view = await api('GET', `/v1/rooms/${room}`, { token: admin });
    expect(view.json.members.find((m: { id: string }) => m.id === 'bob')).toMatchObject({ online: true, sockets: 1 });
    two.ws.close(1000);
    await feed.until(
      (f) => f.some((x) => x.type === 'presence' && x.agent === 'bob' && !x.online && x.reason === 'socket-closed'),
      'bob offline',
    );
    view = await api('GET', `/v1/rooms/${room}`, { token: admin });
    expect(view.json.members.find((m: { id: string }) => m.id === 'bob')).toMatchObject({ online: false, sockets: 0 });
    await api('POST', `/v1/rooms/${room}/messages`, { token: alice, body: { content: 'live' } });
    await feed.until((f) => messagesOf(f).length === 2, 'a live routing decision');
    expect(messagesOf(feed.frames)[1]).toMatchObject({ content: 'live', recipients: ['bob'], routing: { policy: 'broadcast' } });
    feed.ws.close(1000);
  });

  it('closes the sockets of a removed agent with 4404', async () => {
    const room = freshRoom();
    const { bob } = await join(room, 'alice', 'bob');
    const socket = await openSocket(`/v1/rooms/${room}/ws?agent=bob&token=${bob}`);
    await api('DELETE', `/v1/rooms/${room}/agents/bob`, { token: bob });
    expect((await socket.closed).code).toBe(4404);
  });

  it('a woken object (hibernation round trip) still knows each socket and never writes to a closing one', async () => {
    const room = freshRoom();
    const { alice, bob } = await join(room, 'alice', 'bob', 'carol');
    const carol = await token('carol', room);
    const bobSocket = await openSocket(`/v1/rooms/${room}/ws?agent=bob&token=${bob}`);
    const carolSocket = await openSocket(`/v1/rooms/${room}/ws?agent=carol&token=${carol}`);
    await api('POST', `/v1/rooms/${room}/messages`, { token: alice, body: { content: 'before sleep' } });
    await bobSocket.until((f) => messagesOf(f).length === 1, 'the first message');
    await carolSocket.until((f) => messagesOf(f).length === 1, 'the first message');
    carolSocket.ws.close(1000);
    await carolSocket.closed;
    const stub = env.CHAT_ROOM.get(env.CHAT_ROOM.idFromName(room)) as unknown as DurableObjectStub<ChatRoomBase>;
    // A fresh instance over the same state is what the runtime builds after eviction:
    // nothing in memory, only storage and the sockets' attachments.
    const result = await runInDurableObject(stub, async (instance: ChatRoomBase, state) => {
      const Woken = instance.constructor as new (ctx: DurableObjectState, e: typeof env) => ChatRoomBase;
      const woken = new Woken(state, env);
      const sockets = state.getWebSockets();
      const attachments = sockets.map((ws) => ws.deserializeAttachment());
      const bobServer = sockets.find((ws) => ws.deserializeAttachment()?.agent === 'bob') as WebSocket;
      await woken.webSocketMessage(bobServer, JSON.stringify({ type: 'send', ref: 'after-wake', content: 'hello again' }));
      return { attachments, count: sockets.length };
    });
    expect(result.count).toBe(1);
    // bob's socket went live before the wake: it resumes from the room's last id, not from a per-message write.
    expect(result.attachments[0]).toMatchObject({ kind: 'agent', room, agent: 'bob', live: true });
    await bobSocket.until((f) => f.some((x) => x.ref === 'after-wake'), 'the reply from the woken object');
    expect(bobSocket.frames.find((x) => x.ref === 'after-wake')).toMatchObject({ type: 'ok', id: expect.any(Number) });
    const aliceSees = await api('GET', `/v1/rooms/${room}/messages?after=0`, { token: alice });
    expect(aliceSees.json.messages.map((m: { content: string }) => m.content)).toEqual(['hello again']);
    expect(carolSocket.frames.filter((f) => f.type === 'message')).toHaveLength(1);
    // The woken instance did not replay what bob already had.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(messagesOf(bobSocket.frames).map((m) => m.id)).toEqual([1]);
    bobSocket.ws.close(1000);
  });
});
