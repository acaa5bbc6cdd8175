// The session context: who is logged in, what they may do, logout and renewal.

import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, capHas, hasAnyPriv, hasPriv, setUnauthorizedHandler, type PermissionMap } from '@/api';
import { logout as dropSession, renew, RENEW_INTERVAL, type Session } from '@/api/session';

export interface SessionApi {
  session: Session;
  /** privileges per ACL path from GET /access/permissions (empty until loaded) */
  perms: PermissionMap;
  /** may the user use `priv` on `path` (ACL inheritance applied)? */
  can: (path: string, priv: string) => boolean;
  /** does the user hold `priv` anywhere? */
  canAny: (priv: string) => boolean;
  /** coarse check from the ticket's cap (areas: vms, access, storage, nodes, sdn, dc, mapping) */
  cap: (area: string, priv: string) => boolean;
  logout: () => void;
}

const Ctx = createContext<SessionApi | null>(null);

export function SessionProvider(props: { session: Session; onEnd: () => void; children: ReactNode }) {
  const { onEnd } = props;
  const [session, setSession] = useState(props.session);
  const [perms, setPerms] = useState<PermissionMap>({});

  const logout = useCallback(() => {
    dropSession();
    onEnd();
  }, [onEnd]);

  useEffect(() => {
    setUnauthorizedHandler(logout);
    return () => setUnauthorizedHandler(null);
  }, [logout]);

  useEffect(() => {
    api
      .get<PermissionMap>('/access/permissions')
      .then(setPerms)
      .catch(() => setPerms({}));
  }, [session.username]);

  useEffect(() => {
    const id = window.setInterval(() => {
      renew(session)
        .then(setSession)
        .catch(() => logout());
    }, RENEW_INTERVAL * 1000);
    return () => window.clearInterval(id);
  }, [session, logout]);

  const value = useMemo<SessionApi>(
    () => ({
      session,
      perms,
      can: (path, priv) => hasPriv(perms, path, priv),
      canAny: (priv) => hasAnyPriv(perms, priv),
      cap: (area, priv) => capHas(session.cap, area, priv),
      logout,
    }),
    [session, perms, logout],
  );
  return <Ctx.Provider value={value}>{props.children}</Ctx.Provider>;
}

export function useSession(): SessionApi {
  const v = useContext(Ctx);
  if (!v) throw new Error('useSession outside SessionProvider');
  return v;
}
