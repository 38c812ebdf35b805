/**
 * Calls `load` now and every `intervalMs`, keeping the last good data beside
 * the last error: a failed poll shows an error without blanking what was shown.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError } from '../api/errors.js';

export interface Polled<T> {
  data: T | null;
  error: ApiError | null;
  /** Time of the last successful load. */
  loadedAt: number | null;
  refresh(): void;
}

export function usePolling<T>(load: ((signal: AbortSignal) => Promise<T>) | null, intervalMs: number): Polled<T> {
  const [state, setState] = useState<{ data: T | null; error: ApiError | null; loadedAt: number | null }>({
    data: null,
    error: null,
    loadedAt: null,
  });
  const [tick, setTick] = useState(0);
  const inFlight = useRef(false);

  // biome-ignore lint/correctness/useExhaustiveDependencies: a new loader (another room or token) starts from nothing, not from the old room's data.
  useEffect(() => {
    setState({ data: null, error: null, loadedAt: null });
  }, [load]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: `tick` forces an immediate reload on refresh().
  useEffect(() => {
    if (!load) return;
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      if (!inFlight.current) {
        inFlight.current = true;
        try {
          const data = await load(controller.signal);
          if (!controller.signal.aborted) setState({ data, error: null, loadedAt: Date.now() });
        } catch (error) {
          if (!controller.signal.aborted) {
            const apiError = error instanceof ApiError ? error : new ApiError('server', 'CLIENT_ERROR', 0, String(error));
            setState((s) => ({ ...s, error: apiError }));
          }
        } finally {
          inFlight.current = false;
        }
      }
      if (!controller.signal.aborted) timer = setTimeout(run, intervalMs);
    };
    void run();
    return () => {
      controller.abort();
      inFlight.current = false;
      if (timer) clearTimeout(timer);
    };
  }, [load, intervalMs, tick]);

  const refresh = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, refresh };
}
