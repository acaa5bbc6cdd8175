// VM hardware: memory, processors, BIOS/machine/display/controllers, disks, CD/DVD
// drives, NICs, serial ports, unused disks; pending changes (applied at the next start)
// are highlighted. Add disks/CD/DVD/NICs/serial ports, edit, remove, resize, revert.

import { Button, Dropdown, DropdownItem, DropdownList, MenuToggle, Toolbar, ToolbarContent, ToolbarItem } from '@patternfly/react-core';
import { useState } from 'react';
import { api, seg, type StorageContentItem } from '@/api';
import { ConfirmModal, FormModal } from '@/components/FormModal';
import { ErrorAlert } from '@/components/ErrorAlert';
import { Loading } from '@/layout/ContentPanel';
import { useApi } from '@/hooks/useApi';
import { useSession } from '@/hooks/session';
import type { TabProps } from '@/registry/registry';
import { buildPropString, DISK_RE, freeIndex, isCdrom, NET_RE, parsePropString, type GuestConfig } from '../guest/config';
import { ConfigTable, KeysDialog, useGuestConfig, type GuestConfigState, type Row } from '../guest/ConfigTable';
import { CheckF, SelectF, TextF } from '../guest/fields';
import { aclPath, guestPath } from '../guest/paths';
import { TaskModal } from '../guest/TaskModal';
import { BUSES, CACHES, CPU_TYPES, formatsFor, NIC_MODELS, SCSIHW, useStorages } from './CreateVm';

const ORDER = ['memory', 'balloon', 'sockets', 'cores', 'cpu', 'bios', 'machine', 'vga', 'scsihw'];
const HW_RE = /^(memory|balloon|sockets|cores|cpu|bios|machine|vga|scsihw|(ide|sata|scsi|virtio|unused|net|serial|efidisk)\d+)$/;

function label(key: string, value: string | undefined): string {
  if (key === 'memory') return 'Memory';
  if (key === 'balloon') return 'Minimum memory (balloon)';
  if (key === 'sockets') return 'Sockets';
  if (key === 'cores') return 'Cores';
  if (key === 'cpu') return 'CPU type';
  if (key === 'bios') return 'BIOS';
  if (key === 'machine') return 'Machine';
  if (key === 'vga') return 'Display';
  if (key === 'scsihw') return 'SCSI controller';
  if (/^unused\d+$/.test(key)) return `Unused disk (${key})`;
  if (NET_RE.test(key)) return `Network device (${key})`;
  if (/^serial\d$/.test(key)) return `Serial port (${key})`;
  if (key === 'efidisk0') return 'EFI disk';
  if (DISK_RE.test(key)) return isCdrom(value) ? `CD/DVD drive (${key})` : `Hard disk (${key})`;
  return key;
}

function sortKey(k: string): string {
  const i = ORDER.indexOf(k);
  if (i >= 0) return `0${String(i).padStart(2, '0')}`;
  const m = /^([a-z]+)(\d+)$/.exec(k);
  const grp = m ? (['ide', 'sata', 'scsi', 'virtio', 'efidisk'].includes(m[1]) ? '1' : m[1] === 'unused' ? '2' : m[1] === 'net' ? '3' : '4') : '5';
  return `${grp}${m ? m[1] + m[2].padStart(3, '0') : k}`;
}

type Dialog =
  | { t: 'memory' | 'cpu' | 'system' | 'disk-add' | 'cd-add' | 'net-add' | 'serial-add' }
  | { t: 'disk-edit' | 'cd-edit' | 'net-edit' | 'resize' | 'remove' | 'revert'; key: string };

export default function Hardware({ obj }: TabProps) {
  const st = useGuestConfig(obj);
  const { can } = useSession();
  const acl = aclPath(obj);
  const [sel, setSel] = useState<string | null>(null);
  const [dlg, setDlg] = useState<Dialog | null>(null);
  const [addOpen, setAddOpen] = useState(false);
  if (!st.loaded) return st.error ? <ErrorAlert error={st.error} /> : <Loading />;

  const keys = new Set<string>([...Object.keys(st.cfg.data ?? {}), ...st.map.keys()].filter((k) => HW_RE.test(k)));
  for (const k of ['memory', 'sockets', 'cores']) keys.add(k);
  const rows: Row[] = [...keys].sort((a, b) => sortKey(a).localeCompare(sortKey(b))).map((k) => ({
    key: k,
    label: label(k, st.eff(k) ?? String(st.cfg.data?.[k] ?? '')),
    show: (v) => (v === undefined ? (k === 'memory' ? '2048 (default)' : k === 'sockets' || k === 'cores' ? '1 (default)' : '') : k === 'memory' || k === 'balloon' ? `${v} MiB` : v),
  }));
  const mayDisk = can(acl, 'VM.Config.Disk');
  const mayCd = can(acl, 'VM.Config.CDROM') || mayDisk;
  const mayNet = can(acl, 'VM.Config.Network');
  const mayHw = can(acl, 'VM.Config.HWType');
  const selVal = sel ? st.eff(sel) : undefined;
  const selIsDisk = !!sel && DISK_RE.test(sel) && !/^unused/.test(sel) && !isCdrom(selVal);
  const editFor = (k: string): Dialog | null => {
    if (k === 'memory' || k === 'balloon') return can(acl, 'VM.Config.Memory') ? { t: 'memory' } : null;
    if (k === 'sockets' || k === 'cores' || k === 'cpu') return can(acl, 'VM.Config.CPU') ? { t: 'cpu' } : null;
    if (['bios', 'machine', 'vga', 'scsihw'].includes(k)) return mayHw ? { t: 'system' } : null;
    if (NET_RE.test(k)) return mayNet ? { t: 'net-edit', key: k } : null;
    if (DISK_RE.test(k) && !/^(unused|efidisk)/.test(k)) return isCdrom(st.eff(k)) ? (mayCd ? { t: 'cd-edit', key: k } : null) : mayDisk ? { t: 'disk-edit', key: k } : null;
    return null;
  };
  const removable = (k: string) =>
    !['memory', 'sockets', 'cores'].includes(k) &&
    ((DISK_RE.test(k) && (mayDisk || (isCdrom(st.eff(k)) && mayCd))) || (NET_RE.test(k) && mayNet) || (!DISK_RE.test(k) && !NET_RE.test(k) && mayHw));
  const pendingSel = sel ? st.map.get(sel) : undefined;
  const canRevert = !!pendingSel && (pendingSel.pending !== undefined || !!pendingSel.delete);

  return (
    <div data-testid="vm-hardware">
      <Toolbar>
        <ToolbarContent>
          <ToolbarItem>
            <Dropdown
              isOpen={addOpen}
              onOpenChange={setAddOpen}
              onSelect={() => setAddOpen(false)}
              toggle={(ref) => (
                <MenuToggle ref={ref} onClick={() => setAddOpen(!addOpen)} isExpanded={addOpen} isDisabled={!mayDisk && !mayNet && !mayCd && !mayHw} data-testid="hw-add">
                  Add
                </MenuToggle>
              )}
            >
              <DropdownList>
                <DropdownItem key="disk" isDisabled={!mayDisk} onClick={() => setDlg({ t: 'disk-add' })} data-testid="hw-add-disk">
                  Hard disk
                </DropdownItem>
                <DropdownItem key="cd" isDisabled={!mayCd} onClick={() => setDlg({ t: 'cd-add' })} data-testid="hw-add-cd">
                  CD/DVD drive
                </DropdownItem>
                <DropdownItem key="net" isDisabled={!mayNet} onClick={() => setDlg({ t: 'net-add' })} data-testid="hw-add-net">
                  Network device
                </DropdownItem>
                <DropdownItem key="serial" isDisabled={!mayHw} onClick={() => setDlg({ t: 'serial-add' })} data-testid="hw-add-serial">
                  Serial port
                </DropdownItem>
              </DropdownList>
            </Dropdown>
          </ToolbarItem>
          <ToolbarItem>
            <Button size="sm" variant="secondary" isDisabled={!sel || !editFor(sel)} onClick={() => sel && setDlg(editFor(sel))} data-testid="hw-edit">
              Edit
            </Button>
          </ToolbarItem>
          <ToolbarItem>
            <Button size="sm" variant="secondary" isDisabled={!sel || !removable(sel)} onClick={() => sel && setDlg({ t: 'remove', key: sel })} data-testid="hw-remove">
              Remove
            </Button>
          </ToolbarItem>
          <ToolbarItem>
            <Button size="sm" variant="secondary" isDisabled={!selIsDisk || !can(acl, 'VM.Config.Disk')} onClick={() => sel && setDlg({ t: 'resize', key: sel })} data-testid="hw-resize">
              Resize disk
            </Button>
          </ToolbarItem>
          <ToolbarItem>
            <Button size="sm" variant="secondary" isDisabled={!canRevert} onClick={() => sel && setDlg({ t: 'revert', key: sel })} data-testid="hw-revert">
              Revert
            </Button>
          </ToolbarItem>
        </ToolbarContent>
      </Toolbar>
      <ConfigTable rows={rows} state={st} selected={sel} onSelect={setSel} onActivate={(k) => setDlg(editFor(k))} label="Hardware" testPrefix="hw" />
      {dlg && <HwDialog obj={obj} st={st} dlg={dlg} onClose={() => setDlg(null)} />}
    </div>
  );
}

function HwDialog({ obj, st, dlg, onClose }: TabProps & { st: GuestConfigState; dlg: Dialog; onClose: () => void }) {
  switch (dlg.t) {
    case 'memory':
      return (
        <KeysDialog obj={obj} state={st} onClose={onClose} title="Memory" fields={[
          { key: 'memory', label: 'Memory (MiB)', kind: 'number', placeholder: '2048' },
          { key: 'balloon', label: 'Minimum memory (MiB)', kind: 'number', placeholder: 'same as memory', helper: '0 disables the balloon device' },
        ]} />
      );
    case 'cpu':
      return (
        <KeysDialog obj={obj} state={st} onClose={onClose} title="Processors" fields={[
          { key: 'sockets', label: 'Sockets', kind: 'number', placeholder: '1' },
          { key: 'cores', label: 'Cores', kind: 'number', placeholder: '1' },
          { key: 'cpu', label: 'Type', kind: 'select', options: [{ value: '', label: 'Default (kvm64)' }, ...CPU_TYPES] },
        ]} />
      );
    case 'system':
      return (
        <KeysDialog obj={obj} state={st} onClose={onClose} title="System" fields={[
          { key: 'bios', label: 'BIOS', kind: 'select', options: [{ value: '', label: 'Default (SeaBIOS)' }, 'seabios', 'ovmf'] },
          { key: 'machine', label: 'Machine', kind: 'text', placeholder: 'Default (i440fx)' },
          { key: 'vga', label: 'Display', kind: 'select', options: [{ value: '', label: 'Default' }, 'std', 'virtio', 'qxl', 'vmware', 'cirrus', 'serial0', 'serial1', 'none'] },
          { key: 'scsihw', label: 'SCSI controller', kind: 'select', options: [{ value: '', label: 'Default (LSI 53C895A)' }, ...SCSIHW] },
        ]} />
      );
    case 'disk-add':
    case 'disk-edit':
      return <DiskDialog obj={obj} st={st} edit={dlg.t === 'disk-edit' ? dlg.key : undefined} onClose={onClose} />;
    case 'cd-add':
    case 'cd-edit':
      return <CdDialog obj={obj} st={st} edit={dlg.t === 'cd-edit' ? dlg.key : undefined} onClose={onClose} />;
    case 'net-add':
    case 'net-edit':
      return <NetDialog obj={obj} st={st} edit={dlg.t === 'net-edit' ? dlg.key : undefined} onClose={onClose} />;
    case 'serial-add': {
      const n = freeIndex(st.cfg.data ?? {}, 'serial', 3);
      return (
        <FormModal title="Add: Serial port" isOpen onClose={onClose} onDone={st.reload} submit={() => api.put(guestPath(obj, '/config'), { [`serial${n}`]: 'socket', digest: st.digest })}>
          {() => <div>Add serial{n} as a socket (console through the Console tab).</div>}
        </FormModal>
      );
    }
    case 'resize':
      return <ResizeDialog obj={obj} st={st} disk={dlg.key} onClose={onClose} />;
    case 'remove':
      return (
        <ConfirmModal
          title={`Remove ${dlg.key}`}
          body={/^unused/.test(dlg.key) ? `Destroy the unused disk ${dlg.key} and its data?` : DISK_RE.test(dlg.key) && !isCdrom(st.eff(dlg.key)) ? `Detach ${dlg.key}? The volume stays as an unused disk.` : `Remove ${dlg.key}?`}
          isOpen
          onClose={onClose}
          onDone={st.reload}
          confirm={() => api.put(guestPath(obj, '/config'), { delete: dlg.key, digest: st.digest })}
        />
      );
    case 'revert':
      return (
        <ConfirmModal title={`Revert ${dlg.key}`} body={`Drop the pending change of ${dlg.key}?`} isOpen onClose={onClose} onDone={st.reload}
          confirm={() => api.put(guestPath(obj, '/config'), { revert: dlg.key, digest: st.digest })} />
      );
  }
}

function DiskDialog({ obj, st, edit, onClose }: TabProps & { st: GuestConfigState; edit?: string; onClose: () => void }) {
  const cfg: GuestConfig = st.cfg.data ?? {};
  const old = edit ? parsePropString(st.eff(edit), 'file') : {};
  const [bus, setBus] = useState('scsi');
  const [index, setIndex] = useState(String(Math.max(0, freeIndex(cfg, 'scsi'))));
  const [storage, setStorage] = useState('');
  const [size, setSize] = useState('8');
  const [format, setFormat] = useState('');
  const [cache, setCache] = useState(old.cache ?? '');
  const [discard, setDiscard] = useState(old.discard === 'on');
  const [ssd, setSsd] = useState(old.ssd === '1');
  const [backup, setBackup] = useState(old.backup !== '0');
  const stores = useStorages(obj.node ?? '', 'images');
  const store = storage || stores.data?.[0]?.storage || '';
  const formats = formatsFor(stores.data?.find((s) => s.storage === store)?.type);
  const fmt = formats.includes(format) ? format : formats[0];
  const key = edit ?? `${bus}${index}`;
  const submit = () => {
    const opts = { cache: cache || undefined, discard: discard ? 'on' : undefined, ssd: ssd ? 1 : undefined, backup: backup ? undefined : 0 };
    if (edit) {
      const rest = { ...old, cache: undefined, discard: undefined, ssd: undefined, backup: undefined };
      return api.put(guestPath(obj, '/config'), { [key]: buildPropString({ ...rest, ...opts }, 'file'), digest: st.digest });
    }
    return api.post<string>(guestPath(obj, '/config'), { [key]: buildPropString({ file: `${store}:${size}`, format: fmt, ...opts }, 'file'), digest: st.digest });
  };
  return (
    <TaskModal title={edit ? `Edit: Hard disk ${edit}` : 'Add: Hard disk'} onClose={onClose} onDone={st.reload} submit={submit}>
      {(err) => (
        <>
          {edit ? (
            <TextF id="disk-file" param={key} label="Volume" value={old.file ?? ''} onChange={() => undefined} isDisabled error={err} />
          ) : (
            <>
              <SelectF id="disk-bus" param={key} showError={false} label="Bus" value={bus} onChange={(b) => { setBus(b); setIndex(String(Math.max(0, freeIndex(cfg, b)))); }} options={BUSES} />
              <TextF id="disk-index" param={key} label="Device" value={index} onChange={setIndex} type="number" error={err} />
              <SelectF id="disk-storage" param="storage" label="Storage" value={store} onChange={setStorage} options={(stores.data ?? []).map((s) => s.storage)} error={err} />
              <TextF id="disk-size" param={key} showError={false} label="Size (GiB)" value={size} onChange={setSize} type="number" />
              <SelectF id="disk-format" param={key} showError={false} label="Format" value={fmt} onChange={setFormat} options={formats} />
            </>
          )}
          <SelectF id="disk-cache" param={key} showError={false} label="Cache" value={cache} onChange={setCache} options={CACHES} />
          <CheckF id="disk-discard" label="Discard" checked={discard} onChange={setDiscard} />
          <CheckF id="disk-ssd" label="SSD emulation" checked={ssd} onChange={setSsd} />
          <CheckF id="disk-backup" label="Include in backups" checked={backup} onChange={setBackup} />
        </>
      )}
    </TaskModal>
  );
}

function CdDialog({ obj, st, edit, onClose }: TabProps & { st: GuestConfigState; edit?: string; onClose: () => void }) {
  const { can } = useSession();
  const cfg: GuestConfig = st.cfg.data ?? {};
  const old = edit ? parsePropString(st.eff(edit), 'file') : {};
  const [bus, setBus] = useState('ide');
  const [index, setIndex] = useState(String(Math.max(0, freeIndex(cfg, 'ide', 3))));
  const [media, setMedia] = useState(old.file && old.file !== 'none' ? 'iso' : edit ? 'none' : 'iso');
  const stores = useStorages(obj.node ?? '', 'iso');
  const [storage, setStorage] = useState(old.file?.includes(':') ? old.file.split(':')[0] : '');
  const store = storage || stores.data?.[0]?.storage || '';
  const mayList = !!store && (can(`/storage/${store}`, 'Datastore.Audit') || can(`/storage/${store}`, 'Datastore.AllocateSpace'));
  const isos = useApi<StorageContentItem[]>(mayList ? `/nodes/${seg(obj.node ?? '')}/storage/${seg(store)}/content` : null, { content: 'iso' });
  const [iso, setIso] = useState(old.file && old.file !== 'none' ? old.file : '');
  const vol = iso || isos.data?.[0]?.volid || '';
  const key = edit ?? `${bus}${index}`;
  const submit = () => api.put(guestPath(obj, '/config'), { [key]: `${media === 'iso' ? vol : 'none'},media=cdrom`, digest: st.digest });
  return (
    <FormModal title={edit ? `Edit: CD/DVD drive ${edit}` : 'Add: CD/DVD drive'} isOpen onClose={onClose} onDone={st.reload} submit={submit}>
      {(err) => (
        <>
          {!edit && (
            <>
              <SelectF id="cd-bus" param={key} showError={false} label="Bus" value={bus} onChange={(b) => { setBus(b); setIndex(String(Math.max(0, freeIndex(cfg, b)))); }} options={['ide', 'sata', 'scsi']} />
              <TextF id="cd-index" param={key} label="Device" value={index} onChange={setIndex} type="number" error={err} />
            </>
          )}
          <SelectF id="cd-media" param={key} label="Media" value={media} onChange={setMedia} error={err} options={[{ value: 'iso', label: 'ISO image' }, { value: 'none', label: 'No media' }]} />
          {media === 'iso' && (
            <>
              <SelectF id="cd-storage" label="Storage" value={store} onChange={(s) => { setStorage(s); setIso(''); }} options={(stores.data ?? []).map((s) => s.storage)} />
              <SelectF id="cd-iso" param={key} showError={false} label="ISO image" value={vol} onChange={setIso} options={(isos.data ?? []).map((i) => ({ value: i.volid, label: i.volid.replace(/^[^:]+:iso\//, '') }))} />
            </>
          )}
        </>
      )}
    </FormModal>
  );
}

function NetDialog({ obj, st, edit, onClose }: TabProps & { st: GuestConfigState; edit?: string; onClose: () => void }) {
  const cfg: GuestConfig = st.cfg.data ?? {};
  const raw = edit ? parsePropString(st.eff(edit)) : {};
  // "virtio=BC:24:..." : the model key carries the MAC address
  const model0 = NIC_MODELS.map((m) => m.value).find((m) => m in raw) ?? 'virtio';
  const [model, setModel] = useState(model0);
  const [mac, setMac] = useState(edit ? raw[model0] ?? '' : '');
  const [bridge, setBridge] = useState(raw.bridge ?? 'vmbr0');
  const [tag, setTag] = useState(raw.tag ?? '');
  const [firewall, setFirewall] = useState(edit ? raw.firewall === '1' : true);
  const [down, setDown] = useState(raw.link_down === '1');
  const [rate, setRate] = useState(raw.rate ?? '');
  const key = edit ?? `net${Math.max(0, freeIndex(cfg, 'net'))}`;
  const submit = () => {
    const rest = Object.fromEntries(Object.entries(raw).filter(([k]) => !NIC_MODELS.some((m) => m.value === k) && !['bridge', 'tag', 'firewall', 'link_down', 'rate'].includes(k)));
    const value = [mac ? `${model}=${mac}` : model, buildPropString({ bridge, tag: tag || undefined, firewall: firewall ? 1 : undefined, link_down: down ? 1 : undefined, rate: rate || undefined, ...rest })].filter(Boolean).join(',');
    return api.put(guestPath(obj, '/config'), { [key]: value, digest: st.digest });
  };
  return (
    <FormModal title={edit ? `Edit: Network device ${edit}` : `Add: Network device (${key})`} isOpen onClose={onClose} onDone={st.reload} submit={submit}>
      {(err) => (
        <>
          <TextF id="net-bridge" param={key} label="Bridge" value={bridge} onChange={setBridge} error={err} />
          <SelectF id="net-model" param={key} showError={false} label="Model" value={model} onChange={setModel} options={NIC_MODELS} />
          <TextF id="net-mac" param={key} showError={false} label="MAC address" value={mac} onChange={setMac} placeholder="auto" />
          <TextF id="net-tag" param={key} showError={false} label="VLAN tag" value={tag} onChange={setTag} type="number" placeholder="no VLAN" />
          <TextF id="net-rate" param={key} showError={false} label="Rate limit (MB/s)" value={rate} onChange={setRate} type="number" placeholder="unlimited" />
          <CheckF id="net-firewall" label="Firewall" checked={firewall} onChange={setFirewall} />
          <CheckF id="net-down" label="Disconnect (link down)" checked={down} onChange={setDown} />
        </>
      )}
    </FormModal>
  );
}

function ResizeDialog({ obj, st, disk, onClose }: TabProps & { st: GuestConfigState; disk: string; onClose: () => void }) {
  const [inc, setInc] = useState('1');
  const cur = parsePropString(st.eff(disk), 'file').size;
  return (
    <TaskModal title={`Resize disk ${disk}`} submitLabel="Resize" onClose={onClose} onDone={st.reload}
      submit={() => api.put<string | null>(guestPath(obj, '/resize'), { disk, size: `+${inc}G`, digest: st.digest })}>
      {(err) => (
        <>
          <TextF id="resize-disk" param="disk" label="Disk" value={`${disk}${cur ? ` (${cur})` : ''}`} onChange={() => undefined} isDisabled error={err} />
          <TextF id="resize-size" param="size" label="Size increment (GiB)" value={inc} onChange={setInc} type="number" error={err} />
        </>
      )}
    </TaskModal>
  );
}
