import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/** The official MCP client on a room's Streamable HTTP endpoint, with the token in the Authorization header. */
export async function mcpClient(url: string, room: string, token: string, name = 'e2e'): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(`${url}/v1/rooms/${room}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(transport);
  return client;
}

export async function tool(client: Client, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

export function textOf(result: CallToolResult): string {
  const first = result.content[0];
  return first?.type === 'text' ? first.text : '';
}

/** The session id the server gave `client`. */
export function sessionOf(client: Client): string {
  return (client.transport as StreamableHTTPClientTransport).sessionId as string;
}
