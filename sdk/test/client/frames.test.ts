import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audienceRecipients, FrameReader, RemoteMessageBus, type WebSocketConstructorLike } from '../../src/client/index.js';
import { MessageBusError } from '../../src/core/errors.js';
import type { StoredMessage } from '../../src/core/types.js';

const MEMBERS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'];
const wire = (id: number, sender: string) => ({
  id,
  timestamp: 100 + id,
  sender,
  content: { n: id },
  routing: { policy: 'broadcast', requested: null },
});

describe('FrameReader', () => {
  it('completes a message sent by audience with the socket room and the audience without the sender', () => {
    const reader = new FrameReader('lobby');
    expect(reader.read(JSON.stringify({ type: 'audience', audience: 4, members: MEMBERS }))).toMatchObject({ type: 'audience' });
    const frame = reader.read(JSON.stringify({ type: 'message', audience: 4, message: wire(1, 'c') }));
    // Every field, in the order the room stores them.
    expect(JSON.stringify(frame?.message)).toBe(
      JSON.stringify({
        id: 1,
        room: 'lobby',
        timestamp: 101,
        sender: 'c',
        content: { n: 1 },
        recipients: MEMBERS.filter((m) => m !== 'c'),
        routing: { policy: 'broadcast', requested: null },
        // Left out of the frame: a message that answers nothing is its own thread.
        thread: 1,
      }),
    );
    const all = reader.read(JSON.stringify({ type: 'message', audience: 4, withSender: true, message: wire(2, 'c') }));
    expect(all?.message?.recipients).toEqual(MEMBERS);
    // An inline list is kept as it is.
    const direct = reader.read(JSON.stringify({ type: 'message', message: { ...wire(3, 'a'), recipients: ['b'] } }));
    expect(direct?.message?.recipients).toEqual(['b']);
    expect(direct?.message?.room).toBe('lobby');
  });

  it("puts back the audience's routing where a message frame leaves it out, in the stored field order", () => {
    const reader = new FrameReader('lobby');
    const routing = { policy: 'subgroup', requested: ['team'] };
    reader.read(JSON.stringify({ type: 'audience', audience: 5, members: MEMBERS, routing }));
    const { routing: _routing, ...bare } = { ...wire(7, 'c'), thread: 7 };
    const frame = reader.read(JSON.stringify({ type: 'message', audience: 5, message: bare }));
    expect(Object.keys(frame?.message ?? {})).toEqual(['id', 'room', 'timestamp', 'sender', 'content', 'recipients', 'routing', 'thread']);
    expect(frame?.message?.routing).toEqual(routing);
    // A frame with its own routing keeps it.
    const own = reader.read(JSON.stringify({ type: 'message', audience: 5, message: wire(8, 'c') }));
    expect(own?.message?.routing).toEqual({ policy: 'broadcast', requested: null });
  });

  it("puts back a root's thread (its own id) and keeps a reply's, in the stored field order", () => {
    const reader = new FrameReader('lobby');
    const root = reader.read(JSON.stringify({ type: 'message', message: { ...wire(3, 'a'), recipients: ['b'] } }));
    expect(root?.message?.thread).toBe(3);
    const reply = reader.read(
      JSON.stringify({ type: 'message', message: { ...wire(9, 'b'), recipients: ['a'], thread: 3, inReplyTo: 3, metadata: { k: 1 } } }),
    );
    expect(reply?.message?.thread).toBe(3);
    expect(Object.keys(reply?.message ?? {})).toEqual([
      'id',
      'room',
      'timestamp',
      'sender',
      'content',
      'recipients',
      'routing',
      'thread',
      'inReplyTo',
      'metadata',
    ]);
  });

  it('refuses a message naming an audience this connection has not received, and reads other frames as they are', () => {
    const reader = new FrameReader('lobby');
    reader.read(JSON.stringify({ type: 'audience', audience: 1, members: MEMBERS }));
    const error = (() => {
      try {
        reader.read(JSON.stringify({ type: 'message', audience: 2, message: wire(1, 'a') }));
      } catch (e) {
        return e;
      }
    })();
    expect(MessageBusError.is(error, 'INVALID_MESSAGE')).toBe(true);
    expect(reader.read('{"type":"ok","ref":1,"id":3}')).toEqual({ type: 'ok', ref: 1, id: 3 });
    expect(reader.read('not json')).toBeUndefined();
    expect(reader.read('[1]')).toBeUndefined();
    expect(audienceRecipients(['a', 'b'], 'a', false)).toEqual(['b']);
    expect(audienceRecipients(['a', 'b'], 'a', true)).toEqual(['a', 'b']);
  });
});

// A minimal WebSocket server (RFC 6455 handshake and unmasked text frames), enough to play the worker's frames.
let server: Server;
let url: string;
const connections: string[] = [];
let script: Array<Array<unknown>> = [];
const sockets = new Set<{ destroy(): void }>();

beforeAll(async () => {
  server = createServer((_request, response) => response.writeHead(404).end());
  server.on('upgrade', (request, socket) => {
    const accept = createHash('sha1')
      .update(`${request.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest('base64');
    const protocol = String(request.headers['sec-websocket-protocol'] ?? '').split(',')[0];
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n` +
        `Sec-WebSocket-Protocol: ${protocol}\r\n\r\n`,
    );
    // Client frames are skipped, but a close frame is answered with one.
    socket.on('data', (chunk: Buffer) => {
      if (opcodes(chunk).includes(8)) socket.end(Buffer.from([0x88, 0]));
    });
    sockets.add(socket);
    socket.on('error', () => {});
    connections.push(request.url ?? '');
    for (const frame of script[connections.length - 1] ?? []) socket.write(textFrame(JSON.stringify(frame)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** The opcodes of the (masked, client-to-server) frames in a chunk. */
function opcodes(chunk: Buffer): number[] {
  const found: number[] = [];
  for (let at = 0; at + 2 <= chunk.length; ) {
    let length = (chunk[at + 1] as number) & 0x7f;
    let header = 2;
    if (length === 126) {
      length = chunk.readUInt16BE(at + 2);
      header = 4;
    } else if (length === 127) {
      length = Number(chunk.readBigUInt64BE(at + 2));
      header = 10;
    }
    found.push((chunk[at] as number) & 0x0f);
    at += header + 4 + length;
  }
  return found;
}

function textFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const header =
    payload.length < 126 ? Buffer.from([0x81, payload.length]) : Buffer.from([0x81, 126, payload.length >> 8, payload.length & 255]);
  return Buffer.concat([header, payload]);
}

describe('RemoteMessageBus.subscribe and audience frames', () => {
  it('delivers StoredMessage.recipients as stored, and reconnects after the last id on a frame it cannot complete', async () => {
    script = [
      [
        { type: 'audience', audience: 1, members: MEMBERS },
        { type: 'message', audience: 1, message: wire(1, 'a') },
        // Audience 2 never came on this connection: the client must drop it and resume after id 1.
        { type: 'message', audience: 2, message: wire(2, 'b') },
      ],
      [
        { type: 'audience', audience: 2, members: [...MEMBERS, 'j'] },
        { type: 'message', audience: 2, message: wire(2, 'b') },
      ],
    ];
    const bus = new RemoteMessageBus({
      url,
      room: 'lobby',
      token: 't',
      WebSocket: WebSocket as unknown as WebSocketConstructorLike,
      backoff: { initialMs: 10, maxMs: 20 },
    });
    const got: StoredMessage[] = [];
    const errors: unknown[] = [];
    bus.subscribe('c', (m) => void got.push(m), { onError: (e) => void errors.push(e) });
    for (let i = 0; i < 200 && got.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    await bus.close();
    expect(got.map((m) => [m.id, m.room, m.recipients])).toEqual([
      [1, 'lobby', MEMBERS.filter((m) => m !== 'a')],
      [2, 'lobby', [...MEMBERS, 'j'].filter((m) => m !== 'b')],
    ]);
    expect(errors.some((e) => MessageBusError.is(e, 'INVALID_MESSAGE'))).toBe(true);
    expect(connections).toHaveLength(2);
    expect(connections[1]).toContain('after=1');
  });
});
