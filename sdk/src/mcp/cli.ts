/**
 * `modular-message-bus-library mcp`: one room as an MCP server on
 * stdin/stdout, for MCP clients that spawn their servers (Node.js only).
 * stdout carries nothing but the protocol; every log line goes to stderr.
 */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { RemoteMessageBusOptions } from '../client/remote-bus.js';
import { MessageBusError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { RoutingPolicy } from '../core/types.js';
import type { McpBus } from './bus.js';
import { type McpCommand, parseMcpArgs, type RoutingName, subjectOf, USAGE, UsageError } from './cli-args.js';
import { createMcpServer } from './server.js';

/** The streams and environment the command runs with (the process's own by default). */
export interface McpCommandIO {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
}

interface OpenRoom {
  bus: McpBus;
  agent: string;
  describe: string;
  close(): Promise<void>;
}

/**
 * Runs the command with the arguments after `mcp`; resolves with the exit
 * code once stdin ends or the process is asked to stop. A bad command line
 * exits 2, a room that cannot be opened 1.
 */
export async function runMcpCommand(argv: readonly string[], io: McpCommandIO = processIO()): Promise<number> {
  const log = (line: string) => io.stderr.write(`[modular-message-bus mcp] ${line}\n`);
  let command: McpCommand;
  try {
    command = parseMcpArgs(argv, io.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`modular-message-bus-library mcp: ${error.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (command.mode === 'help') {
    io.stderr.write(`${USAGE}\n`);
    return 0;
  }
  let room: OpenRoom;
  try {
    room = command.mode === 'redis' ? await openRedis(command, log) : await openRemote(command);
  } catch (error) {
    const flag = command.mode === 'redis' ? '--redis' : '--url';
    if (error instanceof UsageError) {
      io.stderr.write(`modular-message-bus-library mcp: ${error.message}\n\n${USAGE}\n`);
      return 2;
    }
    log(`cannot open room "${command.room}" (${flag}): ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }

  const server = createMcpServer(room.bus, { agent: room.agent, onError: (error) => log(error.message) });
  const transport = new StdioServerTransport(io.stdin as NodeJS.ReadStream, io.stdout as NodeJS.WriteStream);
  const stopped = new Promise<void>((resolve) => {
    const stop = () => resolve();
    io.stdin.once('end', stop);
    io.stdin.once('close', stop);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.connect(transport);
  log(`serving room "${room.bus.room}" as agent "${room.agent}" (${room.describe}) on stdio`);
  await stopped;
  await server.close();
  await room.close();
  return 0;
}

// --- internal helpers ---

async function openRedis(command: Extract<McpCommand, { mode: 'redis' }>, log: (line: string) => void): Promise<OpenRoom> {
  const [{ MessageBus }, { RedisStorageBackend }] = await Promise.all([import('../core/bus.js'), import('../backends/redis/index.js')]);
  const storage = new RedisStorageBackend({
    url: command.redis,
    ...(command.keyPrefix === undefined ? {} : { keyPrefix: command.keyPrefix }),
  });
  const bus = new MessageBus(storage, await policyNamed(command.routing), { room: command.room, logger: stderrLogger(log) });
  try {
    // Fail at start, naming the flag, rather than at the first tool call.
    await storage.getRoom(command.room);
  } catch (error) {
    await bus.close();
    throw error;
  }
  return { bus, agent: command.agent, describe: `redis ${command.redis}, ${command.routing} routing`, close: () => bus.close() };
}

async function openRemote(command: Extract<McpCommand, { mode: 'remote' }>): Promise<OpenRoom> {
  const agent = subjectOf(command.token);
  if (agent === undefined)
    throw new UsageError('--token is not a JWT with a "sub" claim: mint one with `npm run -s token -- --agent <id> --room <room>`');
  const { RemoteMessageBus } = await import('../client/remote-bus.js');
  const options: RemoteMessageBusOptions = { url: command.url, room: command.room, token: command.token };
  const WebSocketImpl = (globalThis as { WebSocket?: RemoteMessageBusOptions['WebSocket'] }).WebSocket ?? (await loadWs());
  if (WebSocketImpl) options.WebSocket = WebSocketImpl;
  const remote = new RemoteMessageBus(options);
  const { remoteMembers } = await import('./remote-members.js');
  const bus: McpBus = {
    room: remote.room,
    connectAgent: (id, connect) => remote.connectAgent(id, connect),
    disconnectAgent: (id) => remote.disconnectAgent(id),
    removeAgent: (id) => remote.removeAgent(id),
    sendMessage: (message) => remote.sendMessage(message),
    fetchMessages: (id, after, fetch) => remote.fetchMessages(id, after, fetch),
    ackMessages: (id, upTo) => remote.ackMessages(id, upTo),
    // RemoteMessageBus.agents() reads the admin-only room view; agents list members through the MCP endpoint.
    agents: () => remoteMembers(command.url, command.room, command.token),
    subscribe: (id, handler, subscribe) => remote.subscribe(id, handler, subscribe),
  };
  return { bus, agent, describe: `worker ${command.url}`, close: () => remote.close() };
}

async function policyNamed(name: RoutingName): Promise<RoutingPolicy> {
  const policies = await import('../routing-policies/index.js');
  switch (name) {
    case 'broadcast':
      return new policies.BroadcastRoutingPolicy();
    case 'subgroup':
      return new policies.SubgroupRoutingPolicy();
    case 'individual':
      return new policies.IndividualRoutingPolicy();
  }
}

/**
 * Node 20 has no global WebSocket: the `ws` package (a dependency) stands in.
 * The specifier is a variable so the type checker does not look for its typings.
 */
async function loadWs(): Promise<RemoteMessageBusOptions['WebSocket']> {
  const specifier = 'ws';
  try {
    const ws = (await import(specifier)) as { WebSocket: RemoteMessageBusOptions['WebSocket'] };
    return ws.WebSocket;
  } catch (cause) {
    throw new MessageBusError('MISCONFIGURED', 'no WebSocket in this Node.js: install the "ws" package or use Node.js 22+', { cause });
  }
}

/** Every level to stderr: `console.log`/`debug` would write to stdout, which belongs to the protocol. */
function stderrLogger(log: (line: string) => void): Logger {
  const write = (message: string) => log(message);
  return { debug: write, info: write, warn: write, error: write };
}

function processIO(): McpCommandIO {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env };
}
