import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { MessageBusError } from '../core/errors.js';
import { Message } from '../core/message.js';
import type { JsonValue } from '../core/types.js';
import { ok, renderMessage, renderMessages } from './results.js';
import { askInput, askOutput, DEFAULT_WAIT_SECONDS, MAX_WAIT_SECONDS, messagesOutput, threadInput } from './schemas.js';
import type { ToolContext } from './tools.js';

/** `get_thread` and `ask_agent`: the conversation tools, on the bus's `fetchThread` and `request`. */
export function registerConversationTools(server: McpServer, { bus, agent, run }: ToolContext): void {
  server.registerTool(
    'get_thread',
    {
      title: 'Read a thread',
      description:
        'Read a conversation: the messages of the thread you can see (sent by you or to you), oldest first. Pass the `thread` field of any of its messages.',
      inputSchema: threadInput,
      outputSchema: messagesOutput,
      annotations: { readOnlyHint: true },
    },
    ({ thread }) =>
      run('get_thread', async () => {
        const messages = await bus.fetchThread(agent, thread);
        return ok(
          { messages: messages.map((m) => ({ ...m })) },
          renderMessages(messages, `no messages of thread #${thread} are visible to you`),
        );
      }),
  );

  server.registerTool(
    'ask_agent',
    {
      title: 'Ask and wait for the answer',
      description: `Send a question to \`recipients\` and wait for the first answer (a message with \`in_reply_to\` set to the question's id), up to timeout_seconds (default ${DEFAULT_WAIT_SECONDS}, at most ${MAX_WAIT_SECONDS}). If nobody answers in time you get \`timedOut\` and the question's \`requestId\`: a late answer arrives like any message.`,
      inputSchema: askInput,
      outputSchema: askOutput,
    },
    ({ content, recipients, timeout_seconds }, extra) =>
      run('ask_agent', async () => {
        const timeoutMs = Math.round((timeout_seconds ?? DEFAULT_WAIT_SECONDS) * 1000);
        try {
          const reply = await bus.request(new Message(agent, content as JsonValue, recipients), { timeoutMs, signal: extra.signal });
          return ok({ reply: { ...reply } }, `reply ${renderMessage(reply)}`);
        } catch (error) {
          const requestId = MessageBusError.is(error, 'TIMEOUT') ? error.details.requestId : undefined;
          if (typeof requestId !== 'number') throw error;
          return ok(
            { timedOut: true, requestId },
            `no answer within ${timeoutMs / 1000} s to your question #${requestId}; a late answer arrives through wait_for_messages (get_thread ${requestId} shows the thread)`,
          );
        }
      }),
  );
}
