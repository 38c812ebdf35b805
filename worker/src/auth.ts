import { verify } from 'hono/jwt';
import type { ErrorBody } from './errors.js';
import { fail } from './errors.js';

/** Who a request acts as, from its bearer token's claims. */
export interface Principal {
  /** `sub`: the agent id (or the admin's name). */
  sub: string;
  /** `room`: one room id, or `*` for every room. */
  room: string;
  role: 'agent' | 'admin';
}

/** Reads the token from `Authorization: Bearer …` or, for WebSockets (browsers cannot set headers), `?token=`. */
export function tokenOf(request: Request): string | undefined {
  const header = request.headers.get('authorization');
  if (header) {
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    return match ? match[1] : undefined;
  }
  return new URL(request.url).searchParams.get('token') ?? undefined;
}

/**
 * Tokens this isolate already verified, with their expiry: agents send many
 * requests with one token, and an HMAC check per request is the worker's
 * largest fixed cost. Keyed by secret and token, so a rotated secret misses.
 */
const verified = new Map<string, { principal: Principal; exp: number }>();
const VERIFIED_MAX = 1000;

/** Verifies an HS256 token and its claims; the error says what is wrong with it. */
export async function authenticate(token: string | undefined, secret: string): Promise<Principal | ErrorBody> {
  if (!token) {
    return fail(
      'UNAUTHORIZED',
      'missing bearer token: send "Authorization: Bearer <jwt>" (or ?token= on a WebSocket); `npm run token` makes a dev token',
    );
  }
  const key = `${secret}\u0000${token}`;
  const hit = verified.get(key);
  if (hit && hit.exp * 1000 > Date.now()) return hit.principal;
  verified.delete(key);
  const result = await verifyToken(token, secret);
  if ('code' in result) return result;
  if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value as string);
  verified.set(key, result);
  return result.principal;
}

async function verifyToken(token: string, secret: string): Promise<{ principal: Principal; exp: number } | ErrorBody> {
  let claims: Record<string, unknown>;
  try {
    claims = (await verify(token, secret, 'HS256')) as Record<string, unknown>;
  } catch (error) {
    const reason = error instanceof Error ? error.name : 'invalid';
    return fail('UNAUTHORIZED', `the token was refused (${reason}): sign it with HS256 and this deployment's BUS_SECRET, and check exp`);
  }
  const { sub, room, role, exp } = claims;
  if (typeof sub !== 'string' || typeof room !== 'string' || (role !== 'agent' && role !== 'admin') || typeof exp !== 'number') {
    return fail('UNAUTHORIZED', 'the token needs the claims sub (string), room (room id or "*"), role ("agent" or "admin") and exp');
  }
  return { principal: { sub, room, role }, exp };
}

/** `true` when `principal` may act in `room` at all. */
export function coversRoom(principal: Principal, room: string): boolean {
  return principal.room === '*' || principal.room === room;
}

/** Refusal (or `undefined`) for acting as `agent` in `room`: agents only as themselves in their room, admins as anyone. */
export function refuseAgent(principal: Principal, room: string, agent: string): ErrorBody | undefined {
  if (!coversRoom(principal, room)) return fail('FORBIDDEN', `this token is for room "${principal.room}", not "${room}"`);
  if (principal.role === 'admin') return undefined;
  if (principal.sub !== agent) return fail('FORBIDDEN', `this token acts as agent "${principal.sub}" and cannot act as "${agent}"`);
  return undefined;
}

/** Refusal (or `undefined`) for an admin-only route. */
export function refuseNonAdmin(principal: Principal, room: string | '*'): ErrorBody | undefined {
  if (principal.role !== 'admin') return fail('FORBIDDEN', 'this route needs an admin token (`npm run token -- --admin`)');
  if (room === '*' ? principal.room !== '*' : !coversRoom(principal, room)) {
    return fail('FORBIDDEN', `this admin token is for room "${principal.room}" only`);
  }
  return undefined;
}
