// Icons per object kind and status (shared by the tree, search and headers).

import {
  CubeIcon,
  CubesIcon,
  DatabaseIcon,
  DesktopIcon,
  FolderIcon,
  ServerIcon,
  TagIcon,
  ClusterIcon,
  ObjectGroupIcon,
  BlueprintIcon,
} from '@patternfly/react-icons';
import type { TreeNode } from './tree';

export function KindIcon({ kind, template }: { kind: TreeNode['kind'] | string; template?: boolean }) {
  if (template) return <BlueprintIcon />;
  switch (kind) {
    case 'root':
      return <ClusterIcon />;
    case 'node':
      return <ServerIcon />;
    case 'qemu':
      return <DesktopIcon />;
    case 'lxc':
      return <CubeIcon />;
    case 'storage':
      return <DatabaseIcon />;
    case 'pool':
      return <ObjectGroupIcon />;
    case 'tag':
      return <TagIcon />;
    case 'folder':
      return <FolderIcon />;
    default:
      return <CubesIcon />;
  }
}

/** A small status dot: green running/online/available, grey stopped, red unknown/offline. */
export function StatusDot({ status }: { status?: string }) {
  if (!status) return null;
  const cls =
    status === 'running' || status === 'online' || status === 'available'
      ? 'ok'
      : status === 'stopped'
        ? 'off'
        : 'bad';
  return <span className={`pyxis-dot pyxis-dot-${cls}`} title={status} />;
}
