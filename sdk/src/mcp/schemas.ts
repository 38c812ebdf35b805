/**
 * The tools' input and output schemas. Inputs are strict (an unknown argument
 * is an error, not silently dropped: a misspelt `recipient` must not turn a
 * direct message into a broadcast) and every refusal names the bus's error
 * code, since a model reads these messages to correct its call.
 *
 * `zod/v4` is the Zod the MCP SDK itself imports, so both share one instance
 * whether Zod 3.25+ or 4 is installed.
 */
import * as z from 'zod/v4';
import { MAX_FETCH_LIMIT } from '../core/bus.js';

/** Longest and default `wait_for_messages` timeout, under the ~60 s most clients allow one tool call. */
export const MAX_WAIT_SECONDS = 55;
export const DEFAULT_WAIT_SECONDS = 25;

const MAX_RECIPIENTS = 1000;

function cursor(name: string, what: string) {
  const error = `INVALID_ARGUMENT: ${name} must be a non-negative integer (${what})`;
  return z.number({ error }).int({ error }).min(0, { error });
}

function strict<T extends z.ZodRawShape>(tool: string, shape: T) {
  const names = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `INVALID_ARGUMENT: ${tool} has no argument ${issue.keys.map((k) => `"${k}"`).join(', ')}; its arguments are ${names.join(', ') || 'none'}`
        : `INVALID_ARGUMENT: ${tool} takes a JSON object of arguments`,
  });
}

// --- inputs ---

export const joinInput = strict('join_room', {
  groups: z
    .array(z.string({ error: 'INVALID_ARGUMENT: each group is a name string' }), {
      error: 'INVALID_ARGUMENT: groups must be an array of names',
    })
    .optional()
    .describe('Groups to be a member of (they decide who receives group messages). Omit to keep your current groups.'),
});

export const emptyInput = (tool: string) => strict(tool, {});

export const sendInput = strict('send_message', {
  content: z
    .union([z.string(), z.record(z.string(), z.unknown())], { error: 'INVALID_MESSAGE: content must be a string or a JSON object' })
    .describe('What to say: plain text, or a JSON object for structured data.'),
  recipients: z
    .array(z.string({ error: 'INVALID_MESSAGE: each recipient is a string' }), {
      error: 'INVALID_MESSAGE: recipients must be an array of strings',
    })
    .max(MAX_RECIPIENTS, { error: `INVALID_MESSAGE: at most ${MAX_RECIPIENTS} recipients` })
    .optional()
    .describe(
      "Who should receive it, as the room's routing understands it: agent ids for direct messages, group names in a subgroup room. Omit to address everyone the routing allows (call list_agents to see who is here).",
    ),
  idempotency_key: z
    .string({ error: 'INVALID_MESSAGE: idempotency_key must be a string' })
    .optional()
    .describe('Makes a retry safe: a second send with the same key returns the first stored message and stores nothing.'),
});

export const fetchInput = strict('fetch_messages', {
  after: cursor('after', 'a message id').optional().describe('Return messages with ids above this. Default: after your acked cursor.'),
  limit: z
    .number({ error: `INVALID_ARGUMENT: limit must be an integer from 1 to ${MAX_FETCH_LIMIT}` })
    .int({ error: `INVALID_ARGUMENT: limit must be an integer from 1 to ${MAX_FETCH_LIMIT}` })
    .min(1, { error: `INVALID_ARGUMENT: limit must be an integer from 1 to ${MAX_FETCH_LIMIT}` })
    .max(MAX_FETCH_LIMIT, { error: `INVALID_ARGUMENT: limit must be an integer from 1 to ${MAX_FETCH_LIMIT}` })
    .optional()
    .describe(`At most this many messages (default 100, at most ${MAX_FETCH_LIMIT}).`),
});

export const waitInput = strict('wait_for_messages', {
  after: cursor('after', 'a message id').optional().describe('Wait for messages with ids above this. Default: after your acked cursor.'),
  timeout_seconds: z
    .number({ error: `INVALID_ARGUMENT: timeout_seconds must be a number from 0 to ${MAX_WAIT_SECONDS}` })
    .min(0, { error: `INVALID_ARGUMENT: timeout_seconds must be a number from 0 to ${MAX_WAIT_SECONDS}` })
    .max(MAX_WAIT_SECONDS, { error: `INVALID_ARGUMENT: timeout_seconds must be a number from 0 to ${MAX_WAIT_SECONDS}` })
    .optional()
    .describe(`How long to wait when nothing is there yet (default ${DEFAULT_WAIT_SECONDS}, at most ${MAX_WAIT_SECONDS}).`),
});

export const ackInput = strict('ack_messages', {
  up_to: cursor('up_to', 'the highest message id you have handled').describe(
    'The highest message id you have handled; fetch_messages and wait_for_messages then start after it.',
  ),
});

// --- outputs ---

/** A stored message. Loose: fields a newer bus adds (threads, metadata) pass through. */
export const storedMessage = z.looseObject({
  id: z.number().int(),
  room: z.string(),
  timestamp: z.number(),
  sender: z.string(),
  content: z.unknown(),
  recipients: z.array(z.string()),
  routing: z.object({ policy: z.string(), requested: z.array(z.string()).nullable() }),
  idempotencyKey: z.string().optional(),
});

export const memberOutput = z.object({ id: z.string(), groups: z.array(z.string()), online: z.boolean() });
export const agentOutput = memberOutput.extend({ via: z.string().optional() });
export const messagesOutput = z.object({ messages: z.array(storedMessage) });
export const agentsOutput = z.object({ agents: z.array(agentOutput) });
export const cursorOutput = z.object({ cursor: z.number().int() });
export const leftOutput = z.object({ left: z.literal(true) });
