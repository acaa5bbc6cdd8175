// Where the user is: the selected object and tab, kept in the URL hash
// (#/<object id>/<tab>, e.g. #/node/pve1/summary, #/qemu/100/hardware) so reloads,
// back/forward and e2e tests can address any page directly.

import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';

export interface Location {
  /** object id: "root" (datacenter), "node/pve1", "qemu/100", "lxc/101", "storage/pve1/local", "pool/x" */
  id: string;
  /** tab id within the object's page ("" = the first visible tab) */
  tab: string;
}

/** Segments each object type's id takes (storage ids carry the node). */
const ID_SEGMENTS: Record<string, number> = { root: 1, node: 2, qemu: 2, lxc: 2, storage: 3, pool: 2 };

export function parseHash(hash: string): Location {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (!parts.length) return { id: 'root', tab: '' };
  const n = ID_SEGMENTS[parts[0]] ?? 1;
  return { id: parts.slice(0, n).join('/'), tab: parts[n] ?? '' };
}

export function formatHash(loc: Location): string {
  const id = loc.id.split('/').map(encodeURIComponent).join('/');
  return `#/${id}${loc.tab ? '/' + encodeURIComponent(loc.tab) : ''}`;
}

interface NavApi {
  location: Location;
  navigate: (id: string, tab?: string) => void;
}

const Ctx = createContext<NavApi | null>(null);

export function NavigationProvider({ children }: { children: ReactNode }) {
  const [location, setLocation] = useState<Location>(() => parseHash(window.location.hash));
  useEffect(() => {
    const onHash = () => setLocation(parseHash(window.location.hash));
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  const navigate = useCallback((id: string, tab = '') => {
    const hash = formatHash({ id, tab });
    if (window.location.hash !== hash) window.location.hash = hash;
  }, []);
  const value = useMemo(() => ({ location, navigate }), [location, navigate]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useNavigation(): NavApi {
  const v = useContext(Ctx);
  if (!v) throw new Error('useNavigation outside NavigationProvider');
  return v;
}
