// The page registry: which tabs the content panel shows for each kind of object.
//
// Each page module (src/pages/<kind>/index.tsx) calls registerPage() once and
// registerTab() per tab; src/pages/index.ts imports them all. The content panel looks
// the selected object's kind up here, filters tabs by `visible`, sorts by `order`.

import type { ComponentType, LazyExoticComponent } from 'react';
import type { Resource } from '@/api';
import type { SessionApi } from '@/hooks/session';

export type ObjectKind = 'root' | 'node' | 'qemu' | 'lxc' | 'storage' | 'pool';

/** The selected object, parsed from its id (see hooks/navigation.tsx). */
export interface ObjectRef {
  id: string;
  kind: ObjectKind;
  node?: string;
  vmid?: number;
  storage?: string;
  pool?: string;
  /** its /cluster/resources entry, when it has one (not for root) */
  resource?: Resource;
}

export interface TabProps {
  obj: ObjectRef;
}

type TabComponent = ComponentType<TabProps> | LazyExoticComponent<ComponentType<TabProps>>;

export interface TabDef {
  id: string; // URL segment: #/<object id>/<tab id>
  title: string;
  component: TabComponent;
  /** lower first; ties keep registration order */
  order?: number;
  /** hide the tab when this returns false (permissions, object state) */
  visible?: (obj: ObjectRef, s: SessionApi) => boolean;
}

export interface PageDef {
  kind: ObjectKind;
  /** header title of the object (e.g. "Virtual Machine 100 (web) on node pve1") */
  title: (obj: ObjectRef) => string;
  /** optional toolbar in the header (start/stop/...): rendered right of the title */
  actions?: ComponentType<TabProps>;
}

const pages = new Map<ObjectKind, PageDef>();
const tabs = new Map<ObjectKind, TabDef[]>();

export function registerPage(def: PageDef): void {
  pages.set(def.kind, def);
}

export function registerTab(kind: ObjectKind, def: TabDef): void {
  const list = tabs.get(kind) ?? [];
  const at = list.findIndex((t) => t.id === def.id);
  if (at >= 0) list[at] = def; // re-registration replaces (hot reload, overrides)
  else list.push(def);
  tabs.set(kind, list);
}

export function pageFor(kind: ObjectKind): PageDef | undefined {
  return pages.get(kind);
}

export function tabsFor(obj: ObjectRef, s: SessionApi): TabDef[] {
  const list = (tabs.get(obj.kind) ?? []).filter((t) => !t.visible || t.visible(obj, s));
  return list
    .map((t, i) => ({ t, i }))
    .sort((a, b) => (a.t.order ?? 100) - (b.t.order ?? 100) || a.i - b.i)
    .map(({ t }) => t);
}

/** Parse an object id ("node/pve1", "qemu/100", "storage/pve1/local", "root"). */
export function parseObjectId(id: string, resources: Map<string, Resource>): ObjectRef | null {
  const parts = id.split('/');
  const resource = resources.get(id);
  switch (parts[0]) {
    case 'root':
      return { id: 'root', kind: 'root' };
    case 'node':
      return parts[1] ? { id, kind: 'node', node: parts[1], resource } : null;
    case 'qemu':
    case 'lxc': {
      const vmid = Number(parts[1]);
      if (!Number.isInteger(vmid)) return null;
      return { id, kind: parts[0], vmid, node: resource?.node, resource };
    }
    case 'storage':
      return parts[1] && parts[2] ? { id, kind: 'storage', node: parts[1], storage: parts[2], resource } : null;
    case 'pool':
      return parts[1] ? { id, kind: 'pool', pool: parts[1], resource } : null;
    default:
      return null;
  }
}
