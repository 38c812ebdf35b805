// MCP benchmark on a real `wrangler dev`: what a room's MCP endpoint costs beside the plain HTTP API of the same
// dev server, in the same run.
// - tool-call cost: a `send_message` round trip with the official MCP client (Streamable HTTP, one session) against
//   a plain `POST /v1/rooms/:room/messages` with fetch, sequential, alternating rounds;
// - wake-up latency: from a send to the return of a `wait_for_messages` that was waiting, p50/p99, beside the same
//   message reaching the agent's plain WebSocket (`/ws`), both timed on every send.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { WebSocket } from 'undici';
import { startDev, token } from './worker.mjs';

const ROUNDS = 3;
const CALLS_PER_ROUND = 150;
const WAKES = 100;
/** How long a wait is given to reach the room object before the send (so it is really waiting). */
const SETTLE_MS = 40;

export async function run() {
  const dev = await startDev();
  try {
    const room = `bench-mcp-${Date.now().toString(36)}`;
    const base = dev.url;
    const senderToken = await token('sender', room);
    const readerToken = await token('reader', room);
    const socketToken = await token('socket', room);
    const sender = await mcpClient(base, room, senderToken);
    const reader = await mcpClient(base, room, readerToken);
    await sender.client.callTool({ name: 'join_room', arguments: {} });
    await reader.client.callTool({ name: 'join_room', arguments: {} });
    await post(`${base}/v1/rooms/${room}/agents/socket/connect`, socketToken, {});

    // --- tool-call cost ---
    const toolTimes = [];
    const postTimes = [];
    let toolCalls = 0;
    let requestsPerCall = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const requestsBefore = sender.requests();
      for (let i = 0; i < CALLS_PER_ROUND; i++) {
        const started = performance.now();
        const result = await sender.client.callTool({ name: 'send_message', arguments: { content: { i } } });
        if (result.isError) throw new Error(`send_message failed: ${JSON.stringify(result.content)}`);
        toolTimes.push(performance.now() - started);
        toolCalls++;
      }
      requestsPerCall = (sender.requests() - requestsBefore) / CALLS_PER_ROUND;
      for (let i = 0; i < CALLS_PER_ROUND; i++) {
        const started = performance.now();
        await post(`${base}/v1/rooms/${room}/messages`, senderToken, { content: { i } });
        postTimes.push(performance.now() - started);
      }
    }

    // --- wake-up latency ---
    const socket = await openSocket(`${base.replace('http', 'ws')}/v1/rooms/${room}/ws?agent=socket&token=${socketToken}`);
    const wakeTimes = [];
    const socketTimes = [];
    let last = (await post(`${base}/v1/rooms/${room}/messages`, senderToken, { content: 'start' })).id;
    await reader.client.callTool({ name: 'fetch_messages', arguments: { after: last - 1 } });
    for (let i = 0; i < WAKES; i++) {
      // Each arrival is timed by a handler attached before the send, not after the POST returns.
      const woken = reader.client
        .callTool({ name: 'wait_for_messages', arguments: { after: last, timeout_seconds: 10 } })
        .then((r) => ({ r, at: performance.now() }));
      await sleep(SETTLE_MS);
      const seen = nextFrame(socket, last).then(() => performance.now());
      const started = performance.now();
      const sent = await post(`${base}/v1/rooms/${room}/messages`, senderToken, { content: { wake: i } });
      const [wake, frameAt] = await Promise.all([woken, seen]);
      const got = wake.r.structuredContent?.messages?.[0]?.id;
      if (got !== sent.id) throw new Error(`wait_for_messages returned ${got}, expected ${sent.id}`);
      wakeTimes.push(wake.at - started);
      socketTimes.push(frameAt - started);
      last = sent.id;
    }
    socket.close();
    await sender.client.close();
    await reader.client.close();

    const toolP50 = quantile(toolTimes, 0.5);
    const postP50 = quantile(postTimes, 0.5);
    const rows = [
      {
        measure: 'send round trip p50 (ms)',
        mcp: ms(toolP50),
        baseline: ms(postP50),
        'mcp/baseline': ratio(toolP50, postP50),
        baselineIs: 'POST /messages',
      },
      {
        measure: 'send round trip p99 (ms)',
        mcp: ms(quantile(toolTimes, 0.99)),
        baseline: ms(quantile(postTimes, 0.99)),
        'mcp/baseline': ratio(quantile(toolTimes, 0.99), quantile(postTimes, 0.99)),
        baselineIs: 'POST /messages',
      },
      {
        measure: 'wake-up p50 (ms): send → wait_for_messages returns',
        mcp: ms(quantile(wakeTimes, 0.5)),
        baseline: ms(quantile(socketTimes, 0.5)),
        'mcp/baseline': ratio(quantile(wakeTimes, 0.5), quantile(socketTimes, 0.5)),
        baselineIs: 'same send → /ws frame',
      },
      {
        measure: 'wake-up p99 (ms)',
        mcp: ms(quantile(wakeTimes, 0.99)),
        baseline: ms(quantile(socketTimes, 0.99)),
        'mcp/baseline': ratio(quantile(wakeTimes, 0.99), quantile(socketTimes, 0.99)),
        baselineIs: 'same send → /ws frame',
      },
    ];
    const notes = [
      `${ROUNDS} alternating rounds of ${CALLS_PER_ROUND} sequential sends each way (${toolCalls} tool calls), one MCP session; local \`wrangler dev\` (workerd) sharing this machine's cores with the Node client. Ratios above 1 mean MCP is slower.`,
      `Work per tool call: ${requestsPerCall.toFixed(2)} HTTP requests (a POST answered as an SSE stream); the baseline is one POST answered with JSON. The MCP path adds JSON-RPC framing, input and output schema validation and SSE, then takes the same RPC into the room object.`,
      `Wake-up: ${WAKES} sends, each after a wait_for_messages has been in flight for ${SETTLE_MS} ms; the clock starts before the POST and stops when the tool result is back (the /ws frame is timed on the same send). Target p50 < 100 ms: ${quantile(wakeTimes, 0.5) < 100 ? 'met' : 'not met'} (${ms(quantile(wakeTimes, 0.5))} ms).`,
    ];
    return { title: 'MCP endpoint (wrangler dev): tool calls vs the plain HTTP API', rows, notes };
  } finally {
    await dev.stop();
  }
}

// --- helpers ---

/** The official client on the room's MCP endpoint, counting the HTTP requests it makes. */
async function mcpClient(base, room, bearer) {
  let requests = 0;
  const counting = (input, init) => {
    requests++;
    return fetch(input, init);
  };
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/v1/rooms/${room}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${bearer}` } },
    fetch: counting,
  });
  const client = new Client({ name: 'bench', version: '1.0.0' });
  await client.connect(transport);
  return { client, requests: () => requests };
}

/** Resolves at the first message frame with an id above `after`. */
function nextFrame(ws, after) {
  return new Promise((resolve) => {
    ws.onmessage = (event) => {
      const frame = JSON.parse(String(event.data));
      if (frame.type === 'message' && frame.message.id > after) resolve(frame.message);
    };
  });
}

function openSocket(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error('could not open the agent socket'));
  });
}

async function post(url, bearer, body) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`POST ${url}: ${response.status} ${await response.text()}`);
  return response.json();
}

function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const ms = (n) => Number(n.toFixed(2));
const ratio = (a, b) => (b === 0 ? 'n/a' : (a / b).toFixed(2));
const sleep = (duration) => new Promise((resolve) => setTimeout(resolve, duration));
