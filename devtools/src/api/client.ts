/**
 * The admin API client: plain `fetch` with the admin token, every failure turned
 * into an `ApiError`. One instance per (worker URL, token) pair, and only for a
 * token entered for that URL's origin: every request and socket goes to that
 * origin, so the token never reaches another one.
 */
import { ApiError } from './errors.js';
import { readMessage, readMessages, readRoomDetail, readRooms } from './normalize.js';
import { apiOriginOf, type OriginToken } from './token-store.js';
import type { RoomDetail, RoomSummary, RoutingPolicyName, SendRequest, StoredMessage } from './types.js';

/** Largest page the history endpoint is asked for. */
export const HISTORY_PAGE = 1000;

export class ApiClient {
  readonly apiBase: string;
  readonly #token: string;

  constructor(apiBase: string, credential: OriginToken) {
    const origin = apiOriginOf(apiBase);
    if (origin === null || origin !== credential.origin) {
      throw new Error(`[devtools] refusing to send the token entered for ${credential.origin} to ${origin ?? apiBase}`);
    }
    this.apiBase = apiBase.replace(/\/+$/, '');
    this.#token = credential.token;
  }

  async listRooms(signal?: AbortSignal): Promise<RoomSummary[]> {
    return readRooms(await this.#json('GET', '/v1/rooms', undefined, signal));
  }

  async getRoom(room: string, signal?: AbortSignal): Promise<RoomDetail> {
    return readRoomDetail(await this.#json('GET', `/v1/rooms/${encodeURIComponent(room)}`, undefined, signal), room);
  }

  async history(room: string, after: number, limit = HISTORY_PAGE, signal?: AbortSignal): Promise<StoredMessage[]> {
    const path = `/v1/rooms/${encodeURIComponent(room)}/history?after=${after}&limit=${limit}`;
    return readMessages(await this.#json('GET', path, undefined, signal));
  }

  async metrics(signal?: AbortSignal): Promise<string> {
    const response = await this.#fetch('GET', '/metrics', undefined, signal);
    return response.text();
  }

  async send(room: string, request: SendRequest): Promise<StoredMessage> {
    const body = await this.#json('POST', `/v1/rooms/${encodeURIComponent(room)}/messages`, request);
    const message = readMessage(body);
    if (!message) throw new ApiError('server', 'BAD_RESPONSE', 201, 'The worker accepted the message but did not return it.');
    return message;
  }

  async setRouting(room: string, routing: RoutingPolicyName): Promise<void> {
    await this.#json('PUT', `/v1/rooms/${encodeURIComponent(room)}`, { routing });
  }

  async connectAgent(room: string, agent: string, groups?: string[]): Promise<void> {
    const path = `/v1/rooms/${encodeURIComponent(room)}/agents/${encodeURIComponent(agent)}/connect`;
    await this.#json('POST', path, groups ? { groups } : {});
  }

  async disconnectAgent(room: string, agent: string): Promise<void> {
    await this.#json('POST', `/v1/rooms/${encodeURIComponent(room)}/agents/${encodeURIComponent(agent)}/disconnect`, {});
  }

  /** URL of the room's events WebSocket. The token is not in it: it travels as the subprotocol (`socketProtocols`). */
  eventsUrl(room: string, after: number): string {
    const base = new URL(this.apiBase);
    base.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:';
    const basePath = base.pathname.replace(/\/+$/, '');
    base.pathname = `${basePath}/v1/rooms/${encodeURIComponent(room)}/events`;
    base.search = new URLSearchParams({ after: String(after) }).toString();
    return base.toString();
  }

  /** The WebSocket subprotocols that carry the token (`bearer.<jwt>`, echoed by the worker): browsers cannot set headers on a socket. */
  socketProtocols(): string[] {
    return [`bearer.${this.#token}`];
  }

  async #json(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<unknown> {
    const response = await this.#fetch(method, path, body, signal);
    const text = await response.text();
    try {
      return text === '' ? {} : JSON.parse(text);
    } catch {
      throw new ApiError('server', 'BAD_RESPONSE', response.status, `The worker answered ${path} with something that is not JSON.`);
    }
  }

  async #fetch(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
    const url = `${this.apiBase}${path}`;
    const headers: Record<string, string> = { authorization: `Bearer ${this.#token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(signal ? { signal } : {}),
      });
    } catch (cause) {
      if (signal?.aborted) throw cause;
      throw ApiError.unreachable(this.apiBase, cause);
    }
    if (!response.ok) {
      let parsed: unknown = null;
      try {
        parsed = await response.json();
      } catch {
        // A proxy's HTML error page or an empty body: the status alone still says what happened.
      }
      // A dev proxy (vite) answers 502/504 when the worker behind it is down: that is "unreachable", not a worker bug.
      if ((response.status === 502 || response.status === 504) && parsed === null)
        throw ApiError.unreachable(this.apiBase, new Error(`proxy answered ${response.status}`));
      throw ApiError.fromResponse(response.status, parsed);
    }
    return response;
  }
}
