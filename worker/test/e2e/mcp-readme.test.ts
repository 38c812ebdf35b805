// The README's "Connect an MCP client" commands and configs, run as written: the token command, the HTTP client
// config (url + Authorization header) with the official Streamable HTTP client, the curl session, the stdio command
// line and the stdio client config, spawned by the SDK's stdio client transport. Only addresses change: the README
// says localhost:8787 and 127.0.0.1:6379, the tests listen on free ports.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../../e2e/support/wrangler.js';
import { type RedisServer, startRedis } from '../../../sdk/test/redis/server.js';
import { tool } from './mcp-support.js';
import { startWrangler, type WranglerServer } from './support.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('## Connect an MCP client'), readme.indexOf('## Devtools'));
const blocks = [...section.matchAll(/^```(\w+) test=worker\/test\/e2e\/mcp-readme\.test\.ts\n([\s\S]*?)^```$/gm)].map((m) => ({
  lang: m[1] as string,
  code: m[2] ?? '',
}));
const bash = blocks.filter((b) => b.lang === 'bash').map((b) => b.code);
const configs = blocks.filter((b) => b.lang === 'json').map((b) => JSON.parse(b.code) as { mcpServers: Record<string, ServerConfig> });
type ServerConfig = { type?: string; url?: string; headers?: Record<string, string>; command?: string; args?: string[] };

const mint = bash.find((code) => code.includes('npm run -s token')) as string;
const curl = bash.find((code) => code.includes('curl')) as string;
const command = bash.find((code) => code.startsWith('npx modular-message-bus-library mcp')) as string;
const httpConfig = configs.map((c) => Object.values(c.mcpServers)[0] as ServerConfig).find((s) => s.type === 'http') as ServerConfig;
const stdioConfig = configs.map((c) => Object.values(c.mcpServers)[0] as ServerConfig).find((s) => s.command) as ServerConfig;

let dev: WranglerServer;
let redis: RedisServer;
const clients: Client[] = [];

beforeAll(async () => {
  [dev, redis] = await Promise.all([startWrangler({}), startRedis()]);
});
afterAll(async () => {
  for (const client of clients) await client.close().catch(() => {});
  await Promise.all([dev?.stop(), redis?.dispose()]);
});

const local = (text: string) => text.replaceAll('http://localhost:8787', dev.url).replaceAll('redis://127.0.0.1:6379', redis.url);
const shell = (script: string, env: Record<string, string> = {}) =>
  execFileSync('bash', ['-c', `set -euo pipefail\n${local(script)}`], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, BUS_SECRET: dev.secret, ...env },
  });

describe('README: Connect an MCP client', () => {
  it('has the token command, the curl session, the stdio command line and both client configs', () => {
    expect(mint).toContain('--agent you --room lab');
    expect(curl).toContain('Authorization: Bearer $TOKEN');
    expect(command).toContain('--redis');
    expect(httpConfig.headers?.Authorization).toBe('Bearer <TOKEN>');
    expect(stdioConfig.command).toBe('npx');
  });

  it('the minted token opens a session with the HTTP config, and curl opens one too', async () => {
    const token = shell(`${mint}\nprintf %s "$TOKEN"`).trim();
    const headers = Object.fromEntries(Object.entries(httpConfig.headers ?? {}).map(([k, v]) => [k, v.replace('<TOKEN>', token)]));
    const client = new Client({ name: 'readme-http', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(local(httpConfig.url as string)), { requestInit: { headers } }));
    clients.push(client);
    expect((await tool(client, 'join_room')).structuredContent).toEqual({ id: 'you', groups: [], online: true });

    const answer = shell(curl, { TOKEN: token });
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(answer).toMatch(/^mcp-session-id: [0-9a-f-]{36}\r?$/im);
    expect(answer).toContain('"serverInfo":{"name":"modular-message-bus"');
  });

  it('the stdio command line and the stdio config share one Redis room', async () => {
    const [program, ...args] = local(command).trim().split(/\s+/) as [string, ...string[]];
    const first = new Client({ name: 'readme-cli', version: '1.0.0' });
    await first.connect(new StdioClientTransport({ command: program, args, cwd: ROOT, stderr: 'pipe' }));
    clients.push(first);
    // The config's process as a second session: same room, its own agent id.
    const configArgs = (stdioConfig.args ?? []).map((a) => (a === 'session-1' ? 'session-2' : local(a)));
    const second = new Client({ name: 'readme-config', version: '1.0.0' });
    await second.connect(new StdioClientTransport({ command: stdioConfig.command as string, args: configArgs, cwd: ROOT, stderr: 'pipe' }));
    clients.push(second);
    await tool(first, 'join_room');
    await tool(second, 'join_room');
    await tool(first, 'send_message', { content: 'hello from session 1' });
    expect((await tool(second, 'wait_for_messages', { timeout_seconds: 10 })).structuredContent).toMatchObject({
      messages: [{ sender: 'session-1', content: 'hello from session 1' }],
    });
  }, 60_000);
});
