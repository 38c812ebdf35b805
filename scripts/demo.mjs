#!/usr/bin/env node
/**
 * `npm start`: the whole system on this machine, no account and no network.
 *
 * 1. builds the devtools (the SDK is built by `npm run build` before this runs),
 * 2. starts `wrangler dev` (workerd) serving the worker and the dashboard,
 * 3. brings in a small team of simulated agents — a planner, two researchers
 *    in a `research` subgroup, a coder and a critic in `build` — each with its
 *    own agent token and its own `RemoteMessageBus` (the SDK's remote client),
 *    talking in four rooms: `standup` (broadcast), `lab` (subgroup), `dm`
 *    (individual: direct messages) and `crew` (addressed: each message names
 *    agents and #groups, or nobody for all hands). In `crew` the planner asks a
 *    researcher with `request` and waits for the answer, and the critic replies
 *    to that answer in its thread,
 * 4. prints the dashboard URL with an admin token filled in.
 *
 * Ctrl-C stops the agents, the dev server and removes the demo's state.
 *
 * Options: --port <n> (default 8787, or a free one), --rate <messages/s> (default 3),
 * --duration <s> (stop by itself, for smoke tests), --no-build.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { devVar } from './dev-vars.mjs';
import { freePort, isPortFree } from './support/ports.mjs';
import { ROOT, startWrangler } from './support/wrangler.mjs';

const log = (line) => console.log(`[demo] ${line}`);

const { values: options } = parseArgs({
  options: {
    port: { type: 'string' },
    rate: { type: 'string', default: '3' },
    duration: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
  },
});

if (!existsSync(join(ROOT, 'node_modules/wrangler'))) {
  console.error('[demo] dependencies are missing: run `npm install` first, then `npm start`.');
  process.exit(1);
}
if (!existsSync(join(ROOT, 'sdk/dist/client/index.js'))) {
  log('building the SDK…');
  execFileSync('npm', ['run', 'build', '-w', 'modular-message-bus-library'], { cwd: ROOT, stdio: 'inherit' });
}
if (!options['no-build']) {
  log('building the devtools…');
  execFileSync('npm', ['run', 'build', '-w', 'modular-message-bus-devtools'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
}

const { Message } = await import('modular-message-bus-library');
const { RemoteMessageBus } = await import('modular-message-bus-library/client');
const { sign } = await import('hono/jwt');
// Node 20 has no global WebSocket; undici's is the one Node 22 exposes (it comes with wrangler).
const WebSocketImpl = globalThis.WebSocket ?? (await import('undici')).WebSocket;

const secret = process.env.BUS_SECRET ?? devVar('BUS_SECRET');
if (!secret) {
  console.error('[demo] no BUS_SECRET: .dev.vars should hold the local dev secret (BUS_SECRET=...).');
  process.exit(1);
}

// --- the dev server ---

const port = options.port ? Number(options.port) : (await isPortFree(8787)) ? 8787 : await freePort();
const url = `http://127.0.0.1:${port}`;
/** The running `wrangler dev` (the shared launcher), once it answers. */
let dev;

let stopping = false;
const timers = new Set();
const buses = [];

async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const timer of timers) clearTimeout(timer);
  await Promise.race([Promise.allSettled(buses.map((bus) => bus.close())), sleep(2000)]);
  // Stops wrangler and removes the demo's state; before wrangler answered, the launcher's exit hook does that.
  await dev?.stop();
  log('stopped.');
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

log(`starting wrangler dev on ${url}…`);
try {
  dev = await startWrangler({
    port,
    readyTimeoutMs: 90_000,
    onExit: (code, output) => {
      if (stopping) return;
      console.error(`[demo] wrangler dev exited (${code}):\n${output.slice(-3000)}`);
      void stop(1);
    },
  });
} catch (error) {
  console.error(`[demo] ${error.message}`);
  await stop(1);
}

// --- the team ---

const token = (claims) => sign({ ...claims, exp: Math.floor(Date.now() / 1000) + 7 * 86400 }, secret, 'HS256');
const adminToken = await token({ sub: 'demo-admin', room: '*', role: 'admin' });

const TEAM = {
  planner: ['leads'],
  'researcher-1': ['research'],
  'researcher-2': ['research'],
  coder: ['build'],
  critic: ['build'],
};
const ROOMS = { standup: 'broadcast', lab: 'subgroup', dm: 'individual', crew: 'addressed' };
/** Rooms whose members join with their groups (the others route without groups). */
const GROUPED = new Set(['lab', 'crew']);

for (const [room, routing] of Object.entries(ROOMS)) {
  const response = await fetch(`${url}/v1/rooms/${room}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ routing }),
  });
  if (!response.ok) {
    console.error(`[demo] could not configure room ${room}: ${response.status} ${await response.text()}`);
    await stop(1);
  }
}

/** One agent in one room: its own token, its own remote bus, a live subscription and a cursor it acknowledges. */
const seats = new Map();
for (const room of Object.keys(ROOMS)) {
  for (const [agent, groups] of Object.entries(TEAM)) {
    const claims = { sub: agent, room, role: 'agent', ...(GROUPED.has(room) ? { groups } : {}) };
    const bus = new RemoteMessageBus({ url, room, token: await token(claims), WebSocket: WebSocketImpl });
    buses.push(bus);
    await bus.connectAgent(agent, GROUPED.has(room) ? { groups } : {});
    const seat = { bus, agent, room, unread: 0, stop: null };
    seat.stop = bus.subscribe(agent, (message) => react(seat, message), { onError: () => {} });
    seats.set(`${room}/${agent}`, seat);
  }
}

const pick = (list) => list[Math.floor(Math.random() * list.length)];
const TOPICS = [
  'vector search',
  'rate limiting',
  'the retry policy',
  'cold starts',
  'the parser',
  'fan-out latency',
  'the schema migration',
];

async function say(room, agent, content, recipients, options) {
  if (stopping) return;
  const seat = seats.get(`${room}/${agent}`);
  try {
    return await seat.bus.sendMessage(new Message(agent, content, recipients, options));
  } catch (error) {
    // Refusals are part of the show (they feed the rejections chart); anything else is worth a line.
    if (!['UNKNOWN_GROUP', 'UNKNOWN_RECIPIENT', 'AGENT_OFFLINE', 'RATE_LIMITED'].includes(error.code))
      log(`${agent}@${room}: ${error.message}`);
  }
}

/** Sentences a simulated model "generates" for a longer reply. */
const FILLER = [
  'I compared the candidates on latency, cost and how they fail under load.',
  'The second one holds up best once the cache is cold.',
  'Its retry behaviour matches what we measured last week.',
  'The first one is simpler, but it drops requests above a few thousand per second.',
  'I would start with the second and keep the first as a fallback.',
];

/**
 * A longer reply streamed as a model writes it (`bus.stream`): a simulated token generator, one word every
 * 20-45 ms (a few dozen tokens a second), no model and no network. The stored message carries `streamId`.
 */
async function streamReply(room, agent, lead, recipients, options) {
  if (stopping) return;
  const seat = seats.get(`${room}/${agent}`);
  const text = `${lead} ${FILLER.slice(0, 2 + Math.floor(Math.random() * 3)).join(' ')}`;
  const tokens = text.split(/(?<= )/);
  let stream;
  try {
    stream = await seat.bus.stream(new Message(agent, '', recipients, options));
    for (const token of tokens) {
      if (stopping) return void (await stream.abort('CLOSED').catch(() => {}));
      stream.write(token);
      await sleep(20 + Math.random() * 25);
    }
    const stored = await stream.end();
    log(`${room}: ${agent} streamed reply #${stored.id} (${tokens.length} tokens) to ${stored.recipients.join(', ')}`);
    return stored;
  } catch (error) {
    await stream?.abort('model error').catch(() => {});
    if (!['UNKNOWN_RECIPIENT', 'AGENT_OFFLINE', 'RATE_LIMITED', 'CLOSED'].includes(error.code)) log(`${agent}@${room}: ${error.message}`);
  }
}

function later(ms, fn) {
  if (stopping) return;
  const timer = setTimeout(() => {
    timers.delete(timer);
    void fn();
  }, ms);
  timers.add(timer);
}

/** Replies that make the flow graph look like a team at work; acknowledgements move each agent's cursor. */
function react(seat, message) {
  seat.unread++;
  if (seat.unread >= 3 || Math.random() < 0.3) {
    seat.unread = 0;
    seat.bus.ackMessages(seat.agent, message.id).catch(() => {});
  }
  const text = typeof message.content === 'object' && message.content ? message.content : {};
  if (seat.room === 'lab' && text.task && seat.agent.startsWith('researcher') && Math.random() < 0.6) {
    later(800 + Math.random() * 2000, () =>
      say('lab', seat.agent, { finding: `${Math.ceil(Math.random() * 5)} sources on ${text.task}` }, ['leads']),
    );
  }
  if (seat.room === 'lab' && text.pr && seat.agent === 'critic' && Math.random() < 0.7) {
    later(1000 + Math.random() * 2000, () =>
      say('dm', 'critic', { review: `PR #${text.pr}: ${pick(['looks good', 'needs tests', 'rename that flag'])}` }, ['coder']),
    );
  }
  if (seat.room === 'dm' && text.review && seat.agent === 'coder' && Math.random() < 0.5) {
    later(800 + Math.random() * 1500, () => say('dm', 'coder', `fixed: ${text.review}`, ['critic']));
  }
  if (seat.room === 'crew') reactInCrew(seat, message, text);
}

/** Whether the critic has answered an answer yet (see reactInCrew). */
let criticHasRemarked = false;

/**
 * The addressed room. A researcher answers a question in its thread, to the asker and the build group; the critic
 * (in build) answers the first answer and later ones now and then: a reply to a reply, in the same thread.
 */
function reactInCrew(seat, message, text) {
  const kind = message.metadata?.kind;
  if (kind === 'question' && seat.agent.startsWith('researcher')) {
    // The answer streams to the asker and the build group, then is stored once (the planner's request resolves with it).
    later(400 + Math.random() * 1200, () =>
      streamReply('crew', seat.agent, `${1 + Math.floor(Math.random() * 4)} sources on ${text.question}.`, [message.sender, '#build'], {
        inReplyTo: message.id,
        metadata: { kind: 'answer' },
      }),
    );
  }
  // The first answer always gets a remark (a short demo run may see only one), later ones now and then.
  if (kind === 'answer' && seat.agent === 'critic' && (!criticHasRemarked || Math.random() < 0.6)) {
    criticHasRemarked = true;
    later(600 + Math.random() * 1500, async () => {
      const remark = pick(['which of them is peer-reviewed?', 'cite the second one', 'that matches the benchmark']);
      const sent = await say('crew', 'critic', remark, [message.sender, '#leads'], {
        inReplyTo: message.id,
        metadata: { kind: 'remark' },
      });
      if (sent) log(`crew: critic replied to answer #${message.id} in thread #${sent.thread}`);
    });
  }
}

/** The planner asks one researcher and waits for the answer with `request` (a timeout is part of the show too). */
async function askInCrew() {
  const researcher = pick(['researcher-1', 'researcher-2']);
  const topic = pick(TOPICS);
  const seat = seats.get('crew/planner');
  const started = Date.now();
  try {
    const question = new Message('planner', { question: topic }, [researcher, '#build'], { metadata: { kind: 'question' } });
    const answer = await seat.bus.request(question, { timeoutMs: 10_000 });
    log(`crew: planner asked ${researcher} about ${topic} (#${answer.inReplyTo}), answer #${answer.id} in ${Date.now() - started} ms`);
  } catch (error) {
    if (!stopping) log(`crew: planner's question got no answer: ${error.code} (request #${error.details?.requestId ?? '-'})`);
  }
}

/** What each agent starts on its own. */
const ACTIONS = [
  () => say('standup', pick(Object.keys(TEAM)), `standup: working on ${pick(TOPICS)}`),
  () => say('lab', 'planner', { task: pick(TOPICS) }, ['research']),
  () => say('lab', 'planner', { plan: `next: ${pick(TOPICS)}` }, ['research', 'build']),
  () => say('lab', 'coder', { pr: 100 + Math.floor(Math.random() * 900), about: pick(TOPICS) }, ['build']),
  () => say('lab', pick(['researcher-1', 'researcher-2']), { question: `is ${pick(TOPICS)} in scope?` }, ['leads']),
  () => say('dm', 'planner', `can you look into ${pick(TOPICS)}?`, [pick(['researcher-1', 'researcher-2', 'coder'])]),
  () => say('dm', pick(['researcher-1', 'researcher-2']), `notes on ${pick(TOPICS)} attached`, ['planner']),
  // A longer note, streamed word by word as a model would write it.
  () =>
    streamReply('dm', pick(['researcher-1', 'researcher-2']), `Notes on ${pick(TOPICS)}:`, ['planner'], { metadata: { kind: 'notes' } }),
  () => askInCrew(),
  () => say('crew', 'coder', { build: `green at ${pick(TOPICS)}` }, ['#build', 'planner'], { metadata: { kind: 'status' } }),
  () => say('crew', pick(Object.keys(TEAM)), `all hands: ${pick(TOPICS)} is next`, undefined, { metadata: { kind: 'announcement' } }),
  () => say('crew', 'critic', `a word on ${pick(TOPICS)}`, ['coder']),
  // A group nobody is in: refused with UNKNOWN_GROUP, which the metrics panel counts.
  () => (Math.random() < 0.3 ? say('lab', 'planner', 'anyone from design?', ['design']) : undefined),
];

const interval = 1000 / Math.max(0.1, Number(options.rate));
const tick = () =>
  later(interval * (0.5 + Math.random()), async () => {
    await pick(ACTIONS)();
    tick();
  });
tick();

// Presence: the critic steps away for a while now and then (its socket closes, the agents panel shows it offline).
const breaks = () =>
  later(25_000 + Math.random() * 20_000, async () => {
    const seat = seats.get('lab/critic');
    seat.stop();
    await seat.bus.disconnectAgent('critic').catch(() => {});
    later(8000, async () => {
      await seat.bus.connectAgent('critic', { groups: TEAM.critic }).catch(() => {});
      seat.stop = seat.bus.subscribe('critic', (message) => react(seat, message), { onError: () => {} });
      breaks();
    });
  });
breaks();

const dashboard = `${url}/devtools/?room=lab&token=${adminToken}`;
// Every room is an MCP server: a token per room for an agent "you", to connect an MCP client (README: "Connect an MCP client").
const mcp = [];
for (const room of Object.keys(ROOMS))
  mcp.push(
    `    ${room.padEnd(8)} ${url}/v1/rooms/${room}/mcp\n             Authorization: Bearer ${await token({ sub: 'you', room, role: 'agent' })}`,
  );
console.log(`
  Message bus demo is running: 5 agents in rooms standup (broadcast), lab (subgroup), dm (individual)
  and crew (addressed: direct, #group and all-hands messages, a planner's requests answered in threads).
  Longer replies (crew answers, dm notes) stream word by word: watch them grow in the dashboard.

  Dashboard:  ${dashboard}

  MCP (Streamable HTTP; join as agent "you" with join_room):
${mcp.join('\n')}

  Worker API: ${url}   (admin token: the token= above; \`npm run -s token -- --admin\` prints another)
  Ctrl-C stops everything.
`);

if (options.duration) later(Number(options.duration) * 1000, () => stop(0));

// --- helpers ---

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
