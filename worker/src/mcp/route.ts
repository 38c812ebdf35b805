import { isValidId } from 'modular-message-bus-library';
import { coversRoom, grantOf, type Principal } from '../auth.js';
import { type Env, limitsOf } from '../env.js';
import { errorResponse, fail } from '../errors.js';
import { roomOf } from '../stubs.js';

/** Request headers the MCP transport reads; nothing else reaches the room object. */
const FORWARDED = ['accept', 'content-type', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id'];

/**
 * `/v1/rooms/:room/mcp`: checks who may use the room's MCP endpoint and hands
 * the request to the room object, which holds the sessions. The caller has
 * passed the worker's bearer authentication. The agent is the token's `sub`,
 * always: no header, query parameter or tool argument picks another. Admin
 * tokens are refused (admins use the dashboard and the HTTP API), as are
 * tokens for another room and bodies over MAX_BODY_BYTES (counted).
 */
export async function mcpRoute(
  request: Request,
  env: Env,
  principal: Principal,
  room: string,
  waitUntil: (work: Promise<unknown>) => void,
): Promise<Response> {
  if (!isValidId(room))
    return errorResponse(fail('INVALID_ARGUMENT', `"${room}" is not a valid room id: use 1-128 letters, digits and "._:-"`));
  if (!request.headers.has('authorization')) {
    return errorResponse(
      fail('UNAUTHORIZED', 'the MCP endpoint takes its token in the header "Authorization: Bearer <jwt>", not in the URL'),
    );
  }
  if (principal.role === 'admin') {
    return errorResponse(
      fail(
        'FORBIDDEN',
        'an admin token cannot join a room over MCP (admins use the dashboard): use an agent token, `npm run token -- --agent <id> --room <room>`',
      ),
    );
  }
  if (!coversRoom(principal, room)) return errorResponse(fail('FORBIDDEN', `this token is for room "${principal.room}", not "${room}"`));
  if (!isValidId(principal.sub)) return errorResponse(fail('FORBIDDEN', `the token's sub "${principal.sub}" is not a valid agent id`));

  // The groups the token lets its agent join (group-grant.ts): join_room meets the same rule as POST .../connect.
  const headers = new Headers({
    'x-mmb-room': room,
    'x-mmb-kind': 'mcp',
    'x-mmb-agent': principal.sub,
    'x-mmb-grant': JSON.stringify(grantOf(principal)),
  });
  for (const name of FORWARDED) {
    const value = request.headers.get(name);
    if (value !== null) headers.set(name, value);
  }
  let body: ArrayBuffer | undefined;
  if (request.method === 'POST') {
    const limit = limitsOf(env).maxBodyBytes;
    const tooLarge = () => {
      waitUntil(Promise.resolve(roomOf(env, room).countLimit(room, 'body')).catch(() => {}));
      return errorResponse(fail('CONTENT_TOO_LARGE', `the request body is over ${limit} bytes (MAX_BODY_BYTES)`, { limit }));
    };
    if (Number(request.headers.get('content-length') ?? 0) > limit) return tooLarge();
    body = await request.arrayBuffer();
    if (body.byteLength > limit) return tooLarge();
  }
  return roomOf(env, room).fetch(new Request('https://room.internal/mcp', { method: request.method, headers, body: body ?? null }));
}
