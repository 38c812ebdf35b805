/**
 * The flags of `modular-message-bus-library mcp`, parsed without a runtime
 * API so every refusal is a plain `UsageError` naming the flag.
 */
import { isValidId } from '../core/validate.js';

/** Routing policies the Redis mode can create by name. */
export const ROUTING_NAMES = ['broadcast', 'subgroup', 'individual'] as const;
export type RoutingName = (typeof ROUTING_NAMES)[number];
/** `--routing` when none is given. */
export const DEFAULT_ROUTING: RoutingName = 'broadcast';

/** What the command was asked to do. */
export type McpCommand =
  | { mode: 'help' }
  | { mode: 'remote'; url: string; room: string; token: string }
  | { mode: 'redis'; redis: string; room: string; agent: string; routing: RoutingName; keyPrefix: string | undefined };

/** A bad command line: the message names the flag and says what to pass. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const USAGE = `usage:
  modular-message-bus-library mcp --url <worker URL> --room <room> --token <agent JWT>
  modular-message-bus-library mcp --redis <redis://host:port> --room <room> --agent <id> [--routing ${ROUTING_NAMES.join('|')}] [--key-prefix <prefix>]

Serves one room of the message bus as an MCP server on stdin/stdout, for MCP clients that speak stdio.
  --url       the edge worker (deployed, or local wrangler dev); the agent is the token's "sub"
  --token     an agent token for the room (npm run -s token -- --agent <id> --room <room>); or set MMB_TOKEN
  --redis     a Redis server shared by every process in the room
  --agent     the agent id (Redis mode)
  --routing   the room's routing policy (Redis mode), default ${DEFAULT_ROUTING}
  --key-prefix  Redis key prefix (Redis mode), default mmb:`;

const FLAGS = new Set(['url', 'room', 'token', 'redis', 'agent', 'routing', 'key-prefix']);
const REDIS_ONLY = ['agent', 'routing', 'key-prefix'];
const REMOTE_ONLY = ['token'];

/** Parses the arguments after `mcp`. `env` supplies `MMB_TOKEN`. */
export function parseMcpArgs(argv: readonly string[], env: Record<string, string | undefined> = {}): McpCommand {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') return { mode: 'help' };
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument "${arg}": every option is a --flag with a value`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    if (!FLAGS.has(name)) throw new UsageError(`unknown flag --${name}`);
    if (values.has(name)) throw new UsageError(`--${name} is given twice`);
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else {
      value = argv[i + 1];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`--${name} needs a value`);
      i++;
    }
    if (value === '') throw new UsageError(`--${name} needs a value`);
    values.set(name, value);
  }
  const room = values.get('room');
  if (values.has('url') && values.has('redis')) throw new UsageError('pass either --url (a worker) or --redis (a Redis server), not both');
  if (!values.has('url') && !values.has('redis')) throw new UsageError('pass --url <worker URL> or --redis <redis URL>');
  if (room === undefined) throw new UsageError('--room is required');
  if (!isValidId(room)) throw new UsageError(`--room must be 1-128 letters, digits and "._:-"; got "${room}"`);

  const url = values.get('url');
  if (url !== undefined) {
    for (const name of REDIS_ONLY)
      if (values.has(name)) throw new UsageError(`--${name} applies to --redis only; with --url the agent is the token's "sub"`);
    if (!/^https?:\/\/[^/]/.test(url))
      throw new UsageError(`--url must be the worker's http(s) URL, e.g. http://127.0.0.1:8787; got "${url}"`);
    const token = values.get('token') ?? env.MMB_TOKEN;
    if (!token) throw new UsageError('--token is required with --url (or set MMB_TOKEN): an agent token for the room');
    return { mode: 'remote', url, room, token };
  }

  const redis = values.get('redis') as string;
  for (const name of REMOTE_ONLY) if (values.has(name)) throw new UsageError(`--${name} applies to --url only`);
  if (!/^rediss?:\/\/[^/]/.test(redis)) throw new UsageError(`--redis must be a redis:// or rediss:// URL; got "${redis}"`);
  const agent = values.get('agent');
  if (agent === undefined) throw new UsageError('--agent is required with --redis');
  if (!isValidId(agent)) throw new UsageError(`--agent must be 1-128 letters, digits and "._:-"; got "${agent}"`);
  const routing = values.get('routing') ?? DEFAULT_ROUTING;
  if (!(ROUTING_NAMES as readonly string[]).includes(routing)) {
    throw new UsageError(`--routing must be one of ${ROUTING_NAMES.join(', ')}; got "${routing}"`);
  }
  const keyPrefix = values.get('key-prefix');
  if (keyPrefix !== undefined && /[{}]/.test(keyPrefix)) throw new UsageError('--key-prefix must not contain braces');
  return { mode: 'redis', redis, room, agent, routing: routing as RoutingName, keyPrefix };
}

/** The `sub` claim of a JWT, read without verifying it (the worker verifies); `undefined` when it has none. */
export function subjectOf(token: string): string | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const json = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as { sub?: unknown };
    return typeof json.sub === 'string' ? json.sub : undefined;
  } catch {
    return undefined;
  }
}
