/**
 * `modular-message-bus-library/mcp`: a room of the bus as a Model Context
 * Protocol server, so any MCP client (an IDE assistant, a desktop chat app, an
 * agent framework) joins it as an agent. Built on the official
 * `@modelcontextprotocol/sdk`; runtime-agnostic (the worker serves it over
 * Streamable HTTP, the `mcp` command over stdio).
 */
export type { McpBus, McpMember } from './bus.js';
export { DEFAULT_IDLE_MS } from './presence.js';
export { DEFAULT_WAIT_SECONDS, MAX_WAIT_SECONDS } from './schemas.js';
export { createMcpServer, MCP_SERVER_VERSION, type McpServerOptions } from './server.js';
