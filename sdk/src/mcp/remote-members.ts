import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ERROR_CODES, type ErrorCode, MessageBusError } from '../core/errors.js';
import type { McpMember } from './bus.js';
import { MCP_SERVER_VERSION } from './server.js';

/**
 * `list_agents` for the command's `--url` mode. The worker shows the member
 * list to agent tokens only through its MCP endpoint (its HTTP room view,
 * `RemoteMessageBus.agents()`, is for admins), so this asks the room's own
 * MCP endpoint, with the same token, in a short session of its own.
 */
export async function remoteMembers(url: string, room: string, token: string): Promise<McpMember[]> {
  const transport = new StreamableHTTPClientTransport(new URL(`${url.replace(/\/+$/, '')}/v1/rooms/${room}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: 'modular-message-bus-library mcp', version: MCP_SERVER_VERSION });
  try {
    await client.connect(transport);
    const result = await client.callTool({ name: 'list_agents', arguments: {} });
    const agents = (result.structuredContent as { agents?: McpMember[] } | undefined)?.agents;
    if (result.isError || !agents) {
      const content = result.content as Array<{ type: string; text?: string }> | undefined;
      const text = content?.[0]?.text ?? 'no answer';
      const named = /^([A-Z_]+): /.exec(text)?.[1] as ErrorCode | undefined;
      const code = named !== undefined && ERROR_CODES.includes(named) ? named : 'STORAGE_FAILURE';
      throw new MessageBusError(code, text.replace(/^[A-Z_]+: /, ''));
    }
    return agents;
  } catch (error) {
    if (MessageBusError.is(error)) throw error;
    throw new MessageBusError(
      'STORAGE_FAILURE',
      `[remote] could not list the agents of ${room}: ${error instanceof Error ? error.message : String(error)}`,
      {
        cause: error,
      },
    );
  } finally {
    await client.close().catch(() => {});
  }
}
