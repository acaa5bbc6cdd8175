// Data hooks over the API client: one GET, optionally polled, with reload().

import { useCallback, useEffect, useRef, useState } from 'react';
import { api, type Params } from '@/api';

export interface ApiState<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

export interface UseApiOptions {
  /** poll every this many milliseconds (paused while the tab is hidden) */
  interval?: number;
  /** skip the request (e.g. a parameter is not known yet) */
  skip?: boolean;
}

/**
 * GET `path` (null skips). Re-fetches when path/params change, on reload(), and every
 * `interval` ms. Keeps the last good data while a refresh fails.
 */
export function useApi<T>(path: string | null, params?: Params, opts: UseApiOptions = {}): ApiState<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState<boolean>(path !== null && !opts.skip);
  const [tick, setTick] = useState(0);
  const key = path === null || opts.skip ? null : path + '?' + JSON.stringify(params ?? {});
  const lastKey = useRef<string | null>(null);

  useEffect(() => {
    if (key === null || path === null) {
      setLoading(false);
      return;
    }
    if (lastKey.current !== key) {
      // a different object: do not show the previous one's data
      setData(undefined);
      lastKey.current = key;
    }
    const ctl = new AbortController();
    setLoading(true);
    api
      .get<T>(path, params, { signal: ctl.signal })
      .then((d) => {
        setData(d);
        setError(undefined);
      })
      .catch((err: unknown) => {
        if (!(err instanceof DOMException && err.name === 'AbortError')) setError(err);
      })
      .finally(() => {
        if (!ctl.signal.aborted) setLoading(false);
      });
    return () => ctl.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, tick]);

  useEffect(() => {
    if (!opts.interval || key === null) return;
    const id = window.setInterval(() => {
      if (!document.hidden) setTick((t) => t + 1);
    }, opts.interval);
    return () => window.clearInterval(id);
  }, [opts.interval, key]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

/** A write action with busy/error state, for buttons and forms. */
export function useAction<A extends unknown[], R>(fn: (...args: A) => Promise<R>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const run = useCallback(
    async (...args: A): Promise<R | undefined> => {
      setBusy(true);
      setError(undefined);
      try {
        return await fn(...args);
      } catch (err) {
        setError(err);
        return undefined;
      } finally {
        setBusy(false);
      }
    },
    [fn],
  );
  return { run, busy, error, setError };
}
