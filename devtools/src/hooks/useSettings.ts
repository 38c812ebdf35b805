/**
 * Where the worker is and which admin token to use for it. The worker URL
 * defaults to this page's origin (the worker serves the dashboard) and may be
 * overridden with `?api=`. Tokens are kept per API origin (see TokenStore): a
 * `?api=` naming another origin finds no token and the dashboard asks for one,
 * naming that origin, so a link can never send this origin's token elsewhere.
 * `?token=` (the demo prints such a URL) is taken once, for this page's own
 * origin only, and removed from the address bar either way.
 */
import { useCallback, useState } from 'react';
import { apiOriginOf, type OriginToken, TokenStore } from '../api/token-store.js';

interface SettingsState {
  apiBase: string;
  /** The API's origin, or `null` when `?api=` is not an http(s) URL. */
  apiOrigin: string | null;
  /** `true` when the API is on another origin than this page. */
  foreignApi: boolean;
  token: OriginToken | null;
  room: string | null;
}

function initialSettings(store: TokenStore): SettingsState {
  const url = new URL(window.location.href);
  const pageOrigin = window.location.origin;
  const apiBase = url.searchParams.get('api') ?? pageOrigin;
  const apiOrigin = apiOriginOf(apiBase, window.location.href);
  const fromQuery = url.searchParams.get('token');
  if (fromQuery !== null) {
    // A link's token is for this page's own worker; one aimed at another origin must be entered by hand.
    if (fromQuery && apiOrigin === pageOrigin) store.set(pageOrigin, fromQuery);
    url.searchParams.delete('token');
    window.history.replaceState(null, '', url);
  }
  return {
    apiBase,
    apiOrigin,
    foreignApi: apiOrigin !== pageOrigin,
    token: apiOrigin === null ? null : store.get(apiOrigin),
    room: url.searchParams.get('room'),
  };
}

export interface Settings extends SettingsState {
  /** Keeps (or, with `null`, forgets) the token for the current API origin only. */
  setToken(token: string | null): void;
  setRoom(room: string | null): void;
}

export function useSettings(): Settings {
  const [store] = useState(() => new TokenStore(window.localStorage));
  const [state, setState] = useState(() => initialSettings(store));
  const { apiOrigin } = state;
  const setToken = useCallback(
    (token: string | null) => {
      if (apiOrigin === null) return;
      const kept = store.set(apiOrigin, token);
      setState((s) => ({ ...s, token: kept }));
    },
    [store, apiOrigin],
  );
  const setRoom = useCallback((room: string | null) => {
    // The room lives in the address bar so a reload or a shared link opens the same room.
    const url = new URL(window.location.href);
    if (room) url.searchParams.set('room', room);
    else url.searchParams.delete('room');
    window.history.replaceState(null, '', url);
    setState((s) => ({ ...s, room }));
  }, []);
  return { ...state, setToken, setRoom };
}
