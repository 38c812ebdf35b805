/**
 * Where the worker is and which admin token to use. The token comes from
 * `?token=` once (the demo prints such a URL; it is then removed from the
 * address bar) or from what the person pasted, and is kept in localStorage.
 * The worker URL defaults to this page's origin (the worker serves the
 * dashboard) and may be overridden with `?api=`.
 */
import { useCallback, useState } from 'react';

const TOKEN_KEY = 'mmb-devtools:token';

function initialSettings(): { apiBase: string; token: string | null; room: string | null } {
  const url = new URL(window.location.href);
  const fromQuery = url.searchParams.get('token');
  if (fromQuery) {
    localStorage.setItem(TOKEN_KEY, fromQuery);
    url.searchParams.delete('token');
    window.history.replaceState(null, '', url);
  }
  return {
    apiBase: url.searchParams.get('api') ?? window.location.origin,
    token: fromQuery ?? localStorage.getItem(TOKEN_KEY),
    room: url.searchParams.get('room'),
  };
}

export interface Settings {
  apiBase: string;
  token: string | null;
  room: string | null;
  setToken(token: string | null): void;
  setRoom(room: string | null): void;
}

export function useSettings(): Settings {
  const [state, setState] = useState(initialSettings);
  const setToken = useCallback((token: string | null) => {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
    setState((s) => ({ ...s, token }));
  }, []);
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
