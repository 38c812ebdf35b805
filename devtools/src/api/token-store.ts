/**
 * Admin tokens, kept per API origin. A token is handed out only for the origin
 * it was entered for, so a link whose `?api=` names another origin can never
 * make the dashboard send it there: that origin simply has no token yet, and
 * the dashboard asks for one, naming the origin. `ApiClient` accepts only a
 * token whose origin is its own, so every request and socket is covered.
 */

/** A token together with the API origin it was entered for. */
export interface OriginToken {
  readonly origin: string;
  readonly token: string;
}

/** The part of `localStorage` the store uses (any `Storage` fits). */
export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

const KEY_PREFIX = 'mmb-devtools:token@';
/** Where dashboards before per-origin tokens kept the one token, whatever origin it was for. */
const LEGACY_KEY = 'mmb-devtools:token';

/** The origin (`https://worker.example:8443`) of an API base URL, or `null` when it is not an http(s) URL. */
export function apiOriginOf(apiBase: string, relativeTo?: string): string | null {
  let url: URL;
  try {
    url = new URL(apiBase, relativeTo);
  } catch {
    return null;
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : null;
}

export class TokenStore {
  readonly #storage: KeyValueStorage;

  constructor(storage: KeyValueStorage) {
    this.#storage = storage;
    // Nobody knows which origin the old single token was entered for: it is dropped and asked for again once.
    storage.removeItem(LEGACY_KEY);
  }

  /** The token entered for `origin`, if any. */
  get(origin: string): OriginToken | null {
    const token = this.#storage.getItem(KEY_PREFIX + origin);
    return token ? { origin, token } : null;
  }

  /** Keeps `token` for `origin` only (`null` forgets it). Other origins' tokens are untouched. */
  set(origin: string, token: string | null): OriginToken | null {
    if (!token) {
      this.#storage.removeItem(KEY_PREFIX + origin);
      return null;
    }
    this.#storage.setItem(KEY_PREFIX + origin, token);
    return { origin, token };
  }
}
