// API paths of a guest (qemu or lxc) from its ObjectRef.
import { seg } from '@/api';
import type { ObjectRef } from '@/registry/registry';

export function guestPath(obj: ObjectRef, sub = ''): string {
  return `/nodes/${seg(obj.node ?? '')}/${obj.kind}/${obj.vmid}${sub}`;
}

export function aclPath(obj: ObjectRef): string {
  return `/vms/${obj.vmid}`;
}
