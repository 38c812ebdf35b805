import { verify } from 'hono/jwt';
import { isValidId } from 'modular-message-bus-library';
import type { ErrorBody, GroupGrant } from './contract.js';
import { fail } from './errors.js';

/** Who a request acts as, from its bearer token's claims. */
export interface Principal {
  /** `sub`: the agent id (or the admin's name). */
  sub: string;
  /** `room`: one room id, or `*` for every room. */
  room: string;
  role: 'agent' | 'admin';
  /** `groups`: the groups an agent token may join or leave (`["*"]`: any); absent: none. Ignored for admins. */
  groups?: readonly string[];
}

/** Where a request's token came from, and the subprotocol to echo when it came as one. */
export interface Credentials {
  token: string | undefined;
  /** The offered `bearer.<jwt>` subprotocol: a WebSocket answer must name it, or browsers drop the socket. */
  protocol?: string;
}

/** The subprotocol prefix a browser uses to carry its token on a WebSocket (it cannot set headers there). */
export const BEARER_PROTOCOL = 'bearer.';

/**
 * Reads the token: `Authorization: Bearer …` on every route. A WebSocket
 * upgrade may instead offer the subprotocol `bearer.<jwt>` (what browsers can
 * set) or, for older clients, `?token=`. On plain HTTP a `?token=` is refused:
 * URLs end up in logs, history and Referer headers.
 */
export function credentialsOf(request: Request, upgrade: boolean): Credentials | ErrorBody {
  const url = new URL(request.url);
  if (!upgrade && url.searchParams.has('token')) {
    return fail(
      'UNAUTHORIZED',
      '?token= is accepted only on WebSocket upgrades (URLs end up in logs and Referer headers): send the token in the "Authorization: Bearer <jwt>" header',
    );
  }
  const protocol = upgrade ? bearerProtocolOf(request) : undefined;
  const header = request.headers.get('authorization');
  if (header) {
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    return { token: match ? match[1] : undefined, ...(protocol ? { protocol } : {}) };
  }
  if (protocol) return { token: protocol.slice(BEARER_PROTOCOL.length), protocol };
  return { token: url.searchParams.get('token') ?? undefined };
}

/**
 * Tokens this isolate already verified, with their expiry: agents send many
 * requests with one token, and an HMAC check per request is the worker's
 * largest fixed cost. Keyed by secret and token, so a rotated secret misses;
 * only canonical tokens are verified, so one token has one key.
 */
const verified = new Map<string, { principal: Principal; exp: number }>();
const VERIFIED_MAX = 1000;

/** Verifies an HS256 token and its claims; the error says what is wrong with it. */
export async function authenticate(token: string | undefined, secret: string): Promise<Principal | ErrorBody> {
  if (!token) {
    return fail(
      'UNAUTHORIZED',
      'missing bearer token: send "Authorization: Bearer <jwt>" (on a WebSocket: the subprotocol "bearer.<jwt>"); `npm run token` makes a dev token',
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

/** Which groups the principal may make its agent join or leave (see group-grant.ts). */
export function grantOf(principal: Principal): GroupGrant {
  if (principal.role === 'admin' || principal.groups?.includes('*')) return '*';
  return principal.groups ?? null;
}

// --- internal helpers ---

async function verifyToken(token: string, secret: string): Promise<{ principal: Principal; exp: number } | ErrorBody> {
  if (!isCanonicalJwt(token)) {
    return fail(
      'UNAUTHORIZED',
      'the token is not a compact JWT: three base64url parts without padding, each in its one canonical spelling',
    );
  }
  let claims: Record<string, unknown>;
  try {
    claims = (await verify(token, secret, 'HS256')) as Record<string, unknown>;
  } catch (error) {
    const reason = error instanceof Error ? error.name : 'invalid';
    return fail('UNAUTHORIZED', `the token was refused (${reason}): sign it with HS256 and this deployment's BUS_SECRET, and check exp`);
  }
  const { sub, room, role, exp, groups } = claims;
  if (typeof sub !== 'string' || typeof room !== 'string' || (role !== 'agent' && role !== 'admin') || typeof exp !== 'number') {
    return fail('UNAUTHORIZED', 'the token needs the claims sub (string), room (room id or "*"), role ("agent" or "admin") and exp');
  }
  if (groups !== undefined && !isGroupsClaim(groups)) {
    return fail('UNAUTHORIZED', 'the token\'s groups claim must be a list of group names (letters, digits and "._:-"), or ["*"]');
  }
  return { principal: { sub, room, role, ...(groups === undefined ? {} : { groups }) }, exp };
}

function isGroupsClaim(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((g) => g === '*' || isValidId(g));
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * `true` for `header.payload.signature` where each part is unpadded base64url
 * whose last character leaves its unused low bits at zero. Decoders ignore
 * those bits and padding, so without this check one signature has several
 * spellings and a token string is not unique (for deny-lists, caches, logs).
 */
function isCanonicalJwt(token: string): boolean {
  const parts = token.split('.');
  return parts.length === 3 && parts.every(isCanonicalBase64url);
}

function isCanonicalBase64url(part: string): boolean {
  if (!/^[A-Za-z0-9_-]+$/.test(part) || part.length % 4 === 1) return false;
  const last = BASE64URL.indexOf(part.at(-1) as string);
  // 2 characters left over encode 1 byte (4 unused bits), 3 encode 2 bytes (2 unused bits).
  const unusedBits = part.length % 4 === 2 ? 0b1111 : part.length % 4 === 3 ? 0b11 : 0;
  return (last & unusedBits) === 0;
}

/** The first `bearer.<jwt>` entry of `Sec-WebSocket-Protocol`, if the client offered one. */
function bearerProtocolOf(request: Request): string | undefined {
  const offered = request.headers.get('sec-websocket-protocol');
  if (!offered) return undefined;
  return offered
    .split(',')
    .map((p) => p.trim())
    .find((p) => p.startsWith(BEARER_PROTOCOL) && p.length > BEARER_PROTOCOL.length);
}
