// /cluster/resources, polled once for the whole app (tree, search, summaries).
//
// Pools: when the daemon's /cluster/resources does not list pool entries (and guests
// carry no `pool` field), they are completed from /pools (polled less often), so the
// pool view of the tree and the pool pages work either way.

import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, type Resource } from '@/api';
import { useApi } from './useApi';

export const RESOURCE_POLL_MS = 3000;
const POOL_POLL_MS = 15000;

interface ResourcesApi {
  resources: Resource[];
  byId: Map<string, Resource>;
  loaded: boolean;
  error: unknown;
  reload: () => void;
}

interface PoolInfo {
  poolid: string;
  comment?: string;
  members?: { id: string }[];
}

const Ctx = createContext<ResourcesApi | null>(null);

/** Pools with their members, from /pools (for daemons whose resources lack them). */
function usePools(enabled: boolean, tick: number): PoolInfo[] {
  const [pools, setPools] = useState<PoolInfo[]>([]);
  useEffect(() => {
    if (!enabled) return;
    const ctl = new AbortController();
    const load = async () => {
      if (document.hidden) return;
      try {
        const list = await api.get<PoolInfo[]>('/pools', undefined, { signal: ctl.signal });
        const full = await Promise.all(
          list.map((p) =>
            p.members
              ? p
              : api
                  .get<PoolInfo[]>('/pools', { poolid: p.poolid }, { signal: ctl.signal })
                  .then((r) => r[0] ?? p)
                  .catch(() => p),
          ),
        );
        setPools(full);
      } catch {
        /* keep the last list */
      }
    };
    void load();
    const id = window.setInterval(load, POOL_POLL_MS);
    return () => {
      ctl.abort();
      window.clearInterval(id);
    };
  }, [enabled, tick]);
  return pools;
}

export function ResourcesProvider({ children }: { children: ReactNode }) {
  const { data, error, reload } = useApi<Resource[]>('/cluster/resources', undefined, {
    interval: RESOURCE_POLL_MS,
  });
  const [poolTick, setPoolTick] = useState(0);
  const hasPools = !!data?.some((r) => r.type === 'pool');
  const pools = usePools(data !== undefined && !hasPools, poolTick);

  const value = useMemo<ResourcesApi>(() => {
    let resources = data ?? [];
    if (!hasPools && pools.length) {
      const memberOf = new Map<string, string>();
      for (const p of pools) for (const m of p.members ?? []) memberOf.set(m.id, p.poolid);
      resources = [
        ...resources.map((r) => (r.pool || !memberOf.has(r.id) ? r : { ...r, pool: memberOf.get(r.id) })),
        ...pools.map((p): Resource => ({ id: `pool/${p.poolid}`, type: 'pool', pool: p.poolid })),
      ];
    }
    return {
      resources,
      byId: new Map(resources.map((r) => [r.id, r])),
      loaded: data !== undefined,
      error,
      reload: () => {
        reload();
        setPoolTick((t) => t + 1);
      },
    };
  }, [data, error, reload, hasPools, pools]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useResources(): ResourcesApi {
  const v = useContext(Ctx);
  if (!v) throw new Error('useResources outside ResourcesProvider');
  return v;
}
