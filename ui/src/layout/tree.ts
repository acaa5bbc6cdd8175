// Building the resource tree from /cluster/resources: pure functions, one per view.
//
// The tree is flattened (depth-first, collapsed subtrees skipped) into rows for the
// virtualized list; only visible rows are rendered, so 1,000s of guests stay cheap.

import type { Resource } from '@/api';

export type TreeView = 'server' | 'folder' | 'pool';

export interface TreeNode {
  /** unique within the tree (folders have synthetic keys) */
  key: string;
  /** object id to navigate to (null for pure folders) */
  target: string | null;
  label: string;
  kind: 'root' | 'node' | 'qemu' | 'lxc' | 'storage' | 'pool' | 'folder' | 'tag';
  status?: string;
  template?: boolean;
  children: TreeNode[];
}

export interface TreeRow {
  key: string;
  target: string | null;
  label: string;
  kind: TreeNode['kind'];
  status?: string;
  template?: boolean;
  depth: number;
  hasChildren: boolean;
  expanded: boolean;
}

export function guestLabel(r: Resource): string {
  return r.name ? `${r.vmid} (${r.name})` : String(r.vmid);
}

function leaf(r: Resource): TreeNode {
  switch (r.type) {
    case 'qemu':
    case 'lxc':
      return { key: r.id, target: r.id, label: guestLabel(r), kind: r.type, status: r.status, template: !!r.template, children: [] };
    case 'storage':
      return { key: r.id, target: r.id, label: `${r.storage} (${r.node})`, kind: 'storage', status: r.status, children: [] };
    case 'node':
      return { key: r.id, target: r.id, label: r.node ?? r.id, kind: 'node', status: r.status, children: [] };
    case 'pool':
      return { key: r.id, target: r.id, label: r.pool ?? r.id, kind: 'pool', children: [] };
    default:
      return { key: r.id, target: null, label: r.id, kind: 'folder', children: [] };
  }
}

const byVmid = (a: Resource, b: Resource) => (a.vmid ?? 0) - (b.vmid ?? 0);
const byName = (a: TreeNode, b: TreeNode) => a.label.localeCompare(b.label, undefined, { numeric: true });

function folder(key: string, label: string, children: TreeNode[], kind: TreeNode['kind'] = 'folder'): TreeNode {
  return { key, target: null, label, kind, children };
}

export function buildTree(resources: Resource[], view: TreeView): TreeNode {
  const guests = resources.filter((r) => r.type === 'qemu' || r.type === 'lxc').sort(byVmid);
  const storages = resources.filter((r) => r.type === 'storage');
  const nodes = resources.filter((r) => r.type === 'node');
  const pools = resources.filter((r) => r.type === 'pool');
  const root: TreeNode = { key: 'root', target: 'root', label: 'Datacenter', kind: 'root', children: [] };

  if (view === 'server') {
    // a user without Sys.Audit on a node still sees its guests: list the node anyway
    const known = new Set(nodes.map((n) => n.node));
    const implied = [...guests, ...storages]
      .map((r) => r.node)
      .filter((n): n is string => !!n && !known.has(n))
      .filter((n, i, all) => all.indexOf(n) === i)
      .map((n): Resource => ({ id: `node/${n}`, type: 'node', node: n }));
    for (const n of [...nodes, ...implied].sort((a, b) => (a.node ?? '').localeCompare(b.node ?? ''))) {
      const item = leaf(n);
      item.children = [
        ...guests.filter((g) => g.node === n.node).map(leaf),
        ...storages
          .filter((s) => s.node === n.node)
          .map((s) => ({ ...leaf(s), label: s.storage ?? s.id }))
          .sort(byName),
      ];
      root.children.push(item);
    }
  } else if (view === 'folder') {
    root.children.push(folder('f:nodes', 'Nodes', nodes.map(leaf).sort(byName)));
    root.children.push(folder('f:qemu', 'Virtual Machines', guests.filter((g) => g.type === 'qemu').map(leaf)));
    root.children.push(folder('f:lxc', 'LXC Containers', guests.filter((g) => g.type === 'lxc').map(leaf)));
    root.children.push(folder('f:storage', 'Storage', storages.map(leaf).sort(byName)));
    root.children.push(folder('f:pools', 'Pools', pools.map(leaf).sort(byName)));
    const tags = new Map<string, Resource[]>();
    for (const g of guests) {
      for (const t of (g.tags ?? '').split(/[;, ]+/).filter(Boolean)) {
        tags.set(t, [...(tags.get(t) ?? []), g]);
      }
    }
    const tagFolders = [...tags.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([t, gs]) => folder(`tag:${t}`, t, gs.map((g) => ({ ...leaf(g), key: `tag:${t}:${g.id}` })), 'tag'));
    root.children.push(folder('f:tags', 'Tags', tagFolders));
  } else {
    for (const p of [...pools].sort((a, b) => (a.pool ?? '').localeCompare(b.pool ?? ''))) {
      const item = leaf(p);
      item.children = [...guests, ...storages]
        .filter((r) => r.pool === p.pool)
        .map((r) => ({ ...leaf(r), key: `pool:${p.pool}:${r.id}` }));
      root.children.push(item);
    }
  }
  return root;
}

/** Depth-first rows of the expanded part of the tree. `collapsed` holds keys. */
export function flatten(root: TreeNode, collapsed: ReadonlySet<string>): TreeRow[] {
  const out: TreeRow[] = [];
  const walk = (n: TreeNode, depth: number) => {
    const expanded = !collapsed.has(n.key);
    out.push({
      key: n.key,
      target: n.target,
      label: n.label,
      kind: n.kind,
      status: n.status,
      template: n.template,
      depth,
      hasChildren: n.children.length > 0,
      expanded,
    });
    if (expanded) for (const c of n.children) walk(c, depth + 1);
  };
  walk(root, 0);
  return out;
}
