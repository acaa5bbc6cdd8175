// Guest config helpers shared by qemu and lxc pages: the property-string codec used by
// drives and NICs ("virtio,bridge=vmbr0,tag=5") and pending changes.

export type GuestConfig = Record<string, string | number | undefined>;

export interface PendingItem {
  key: string;
  value?: string | number;
  pending?: string | number;
  delete?: number;
}

/** Parse "a=1,b=2" (a leading bare value goes to `defaultKey`). */
export function parsePropString(s: string | number | undefined, defaultKey = ''): Record<string, string> {
  const out: Record<string, string> = {};
  if (s === undefined) return out;
  for (const part of String(s).split(',')) {
    if (!part) continue;
    const i = part.indexOf('=');
    if (i < 0) out[defaultKey] = part;
    else out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}

/** Build "x,a=1,b=2" from an object; the default key's value goes first, bare. */
export function buildPropString(o: Record<string, string | number | undefined | null>, defaultKey = ''): string {
  const parts: string[] = [];
  if (defaultKey && o[defaultKey] !== undefined && o[defaultKey] !== '') parts.push(String(o[defaultKey]));
  for (const [k, v] of Object.entries(o)) {
    if (k === defaultKey || v === undefined || v === null || v === '') continue;
    parts.push(`${k}=${v}`);
  }
  return parts.join(',');
}

export const DISK_RE = /^(ide|sata|scsi|virtio|efidisk|tpmstate|unused)\d+$/;
export const NET_RE = /^net\d+$/;

/** First free index for `prefix` (scsi, net, mp...) among the config keys. */
export function freeIndex(cfg: GuestConfig, prefix: string, max = 30): number {
  for (let i = 0; i <= max; i++) if (cfg[`${prefix}${i}`] === undefined) return i;
  return -1;
}

/** Does a drive value describe a CD/DVD? */
export function isCdrom(v: string | number | undefined): boolean {
  return /(^|,)media=cdrom(,|$)/.test(String(v ?? ''));
}

export function isPending(it: PendingItem | undefined): boolean {
  return !!it && (it.pending !== undefined || !!it.delete);
}
