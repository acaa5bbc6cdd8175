// What the logged-in user may do: the ticket's `cap` (coarse, per area) and
// GET /access/permissions (privileges per ACL path) combined into `can(path, priv)`.

import type { Cap } from './types';

export type PermissionMap = Record<string, Record<string, number>>;

/** Longest-prefix lookup as ACL propagation works: /vms/100 inherits from /vms and /. */
export function hasPriv(perms: PermissionMap, path: string, priv: string): boolean {
  if (perms[path]?.[priv]) return true;
  let p = path;
  while (p.length > 1) {
    p = p.slice(0, p.lastIndexOf('/')) || '/';
    if (perms[p]?.[priv]) return true;
  }
  return false;
}

/** Does any path hold `priv` (for menus that apply to "some object")? */
export function hasAnyPriv(perms: PermissionMap, priv: string): boolean {
  return Object.values(perms).some((privs) => !!privs[priv]);
}

/** Coarse check from the ticket's cap: e.g. capHas(cap, 'dc', 'Sys.Audit'). */
export function capHas(cap: Cap, area: string, priv: string): boolean {
  return !!cap[area]?.[priv];
}
