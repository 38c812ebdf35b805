import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { Message, type MessageOptions } from '../core/message.js';
import type { JsonValue, StoredMessage } from '../core/types.js';
import type { McpBus, McpMember } from './bus.js';
import type { Inbox } from './inbox.js';
import type { Presence } from './presence.js';
import { ok, renderMessage, renderMessages } from './results.js';
import {
  ackInput,
  agentsOutput,
  cursorOutput,
  DEFAULT_WAIT_SECONDS,
  emptyInput,
  fetchInput,
  joinInput,
  leftOutput,
  MAX_WAIT_SECONDS,
  memberOutput,
  messagesOutput,
  sendInput,
  storedMessage,
  waitInput,
} from './schemas.js';

/** What every tool works with: the bus, who the agent is, its inbox and presence. */
export interface ToolContext {
  bus: McpBus;
  agent: string;
  inbox: Inbox;
  presence: Presence;
  /** Runs a tool body with the per-call checks (rate limit, presence) and turns a throw into an `isError` result. */
  run(tool: string, body: () => Promise<CallToolResult>): Promise<CallToolResult>;
}

/** Registers the room's tools on `server`. */
export function registerTools(server: McpServer, ctx: ToolContext): void {
  const { bus, agent, inbox, presence, run } = ctx;

  server.registerTool(
    'join_room',
    {
      title: 'Join the room',
      description: `Join room "${bus.room}" as agent "${agent}" and go online. Call this first. Optionally pass the groups you belong to.`,
      inputSchema: joinInput,
      outputSchema: memberOutput,
    },
    ({ groups }) =>
      run('join_room', async () => {
        const member = await bus.connectAgent(agent, groups === undefined ? {} : { groups });
        presence.joined();
        inbox.stop();
        inbox.start(member.lastRoutedId);
        const joined = { id: member.id, groups: [...member.groups], online: member.online };
        const groupText = joined.groups.length > 0 ? ` in groups ${joined.groups.join(', ')}` : '';
        return ok(joined, `joined room ${bus.room} as ${joined.id}${groupText}; online: ${joined.online}`);
      }),
  );

  server.registerTool(
    'leave_room',
    {
      title: 'Leave the room',
      description: 'End your membership of the room: nothing is delivered to you afterwards. Call join_room to come back.',
      inputSchema: emptyInput('leave_room'),
      outputSchema: leftOutput,
    },
    () =>
      run('leave_room', async () => {
        await bus.removeAgent(agent);
        presence.left();
        inbox.stop();
        return ok({ left: true }, `left room ${bus.room}`);
      }),
  );

  server.registerTool(
    'send_message',
    {
      title: 'Send a message',
      description:
        "Send a message to the room. The room's routing decides who receives it from `recipients`. Returns the stored message with its id.",
      inputSchema: sendInput,
      outputSchema: storedMessage,
    },
    (input) =>
      run('send_message', async () => {
        const options: MessageOptions = {};
        if (input.idempotency_key !== undefined) options.idempotencyKey = input.idempotency_key;
        const stored = await bus.sendMessage(new Message(agent, input.content as JsonValue, input.recipients, options));
        return ok({ ...stored }, `sent ${renderMessage(stored)}`);
      }),
  );

  server.registerTool(
    'fetch_messages',
    {
      title: 'Fetch messages',
      description:
        'Read messages sent to you with ids above `after` (default: after the last id you acked), oldest first, without waiting.',
      inputSchema: fetchInput,
      outputSchema: messagesOutput,
      annotations: { readOnlyHint: true },
    },
    ({ after, limit }) =>
      run('fetch_messages', async () => {
        const messages = await bus.fetchMessages(agent, after, limit === undefined ? {} : { limit });
        return ok({ messages: messages.map(plain) }, renderMessages(messages, 'no messages'));
      }),
  );

  server.registerTool(
    'wait_for_messages',
    {
      title: 'Wait for messages',
      description: `Wait until at least one message for you has an id above \`after\` (default: after the last id you acked), then return them, oldest first. Returns as soon as one arrives, or an empty list after timeout_seconds (default ${DEFAULT_WAIT_SECONDS}, at most ${MAX_WAIT_SECONDS}); then call it again. This is how you listen to the room.`,
      inputSchema: waitInput,
      outputSchema: messagesOutput,
      annotations: { readOnlyHint: true },
    },
    ({ after, timeout_seconds }, extra) =>
      run('wait_for_messages', async () => {
        const messages = await waitForMessages(ctx, after, (timeout_seconds ?? DEFAULT_WAIT_SECONDS) * 1000, extra.signal);
        return ok({ messages: messages.map(plain) }, renderMessages(messages, 'no messages yet: call wait_for_messages again'));
      }),
  );

  server.registerTool(
    'ack_messages',
    {
      title: 'Acknowledge messages',
      description:
        'Mark every message up to `up_to` as handled: fetch_messages and wait_for_messages then start after it, also after a restart.',
      inputSchema: ackInput,
      outputSchema: cursorOutput,
      annotations: { idempotentHint: true },
    },
    ({ up_to }) =>
      run('ack_messages', async () => {
        const cursor = await bus.ackMessages(agent, up_to);
        return ok({ cursor }, `acked up to #${cursor}`);
      }),
  );

  server.registerTool(
    'list_agents',
    {
      title: 'List agents',
      description: 'List the members of the room: their ids (use them as recipients), whether they are online, and their groups.',
      inputSchema: emptyInput('list_agents'),
      outputSchema: agentsOutput,
      annotations: { readOnlyHint: true },
    },
    () =>
      run('list_agents', async () => {
        const agents = (await bus.agents()).map(memberOf);
        const lines = agents.map(
          (a) => `${a.id}: ${a.online ? 'online' : 'offline'}${a.groups.length ? `, groups ${a.groups.join(', ')}` : ''}`,
        );
        return ok({ agents }, lines.length > 0 ? lines.join('\n') : 'nobody is in the room yet');
      }),
  );
}

// --- internal helpers ---

/**
 * Fetches; when nothing is there, waits for the inbox to report an arrival
 * and fetches again, until there is something or time is up. The wait is
 * registered before each fetch, so an arrival between the two is not missed.
 */
async function waitForMessages(
  ctx: ToolContext,
  after: number | undefined,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<StoredMessage[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const wait = ctx.inbox.next(Math.max(0, deadline - Date.now()), signal);
    let messages: StoredMessage[];
    try {
      messages = await ctx.bus.fetchMessages(ctx.agent, after);
    } catch (error) {
      wait.cancel();
      throw error;
    }
    if (messages.length > 0 || Date.now() >= deadline || signal.aborted) {
      wait.cancel();
      return messages;
    }
    // Nothing after `after`: a subscription from there replays nothing and wakes at the next arrival (no-op when running).
    ctx.inbox.start(after);
    if (!(await wait.woken)) return [];
  }
}

function memberOf(member: McpMember): McpMember & { groups: string[] } {
  const out: McpMember & { groups: string[] } = { id: member.id, online: member.online, groups: [...member.groups] };
  if (member.via !== undefined) out.via = member.via;
  return out;
}

/** A stored message as the plain record `structuredContent` is typed as. */
function plain(message: StoredMessage): Record<string, unknown> {
  return { ...message };
}
