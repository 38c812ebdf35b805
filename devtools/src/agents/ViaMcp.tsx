/** The mark of a member that joined through an MCP session (an IDE assistant, a desktop app, an agent framework). */
export function ViaMcp({ agent }: { agent: string }) {
  return (
    <span className="via-mcp" data-testid={`agent-via-mcp-${agent}`} title="joined through MCP (/v1/rooms/:room/mcp)">
      MCP
    </span>
  );
}
