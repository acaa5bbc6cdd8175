// Container resources: memory, swap, cores, CPU limit/units, root disk and mount
// points (add, resize, remove). Memory/swap/CPU change live; others may be pending.

import { Button, Toolbar, ToolbarContent, ToolbarItem } from '@patternfly/react-core';
import { useState } from 'react';
import { api } from '@/api';
import { ConfirmModal, FormModal } from '@/components/FormModal';
import { ErrorAlert } from '@/components/ErrorAlert';
import { Loading } from '@/layout/ContentPanel';
import { useSession } from '@/hooks/session';
import type { TabProps } from '@/registry/registry';
import { buildPropString, freeIndex } from '../guest/config';
import { ConfigTable, KeysDialog, useGuestConfig, type GuestConfigState } from '../guest/ConfigTable';
import { CheckF, SelectF, TextF } from '../guest/fields';
import { aclPath, guestPath } from '../guest/paths';
import { TaskModal } from '../guest/TaskModal';
import { useStorages } from '../qemu/CreateVm';

const BASE = ['memory', 'swap', 'cores', 'cpulimit', 'cpuunits', 'rootfs'];
const LABELS: Record<string, string> = { memory: 'Memory', swap: 'Swap', cores: 'Cores', cpulimit: 'CPU limit', cpuunits: 'CPU units', rootfs: 'Root disk' };

type Dlg = { t: 'memory' | 'cpu' | 'mp-add' } | { t: 'resize' | 'remove'; key: string };

export default function Resources({ obj }: TabProps) {
  const st = useGuestConfig(obj);
  const { can } = useSession();
  const acl = aclPath(obj);
  const [sel, setSel] = useState<string | null>(null);
  const [dlg, setDlg] = useState<Dlg | null>(null);
  if (!st.loaded) return st.error ? <ErrorAlert error={st.error} /> : <Loading />;
  const mps = [...new Set([...Object.keys(st.cfg.data ?? {}), ...st.map.keys()])].filter((k) => /^(mp|unused)\d+$/.test(k)).sort();
  const keys = [...BASE, ...mps];
  const show = (k: string) => (v: string | undefined) => {
    if (k === 'memory' || k === 'swap') return v === undefined ? `${k === 'memory' ? 512 : 512} MiB (default)` : `${v} MiB`;
    if (k === 'cores' || k === 'cpulimit') return v === undefined || v === '0' ? 'unlimited' : v;
    if (k === 'cpuunits') return v ?? '100 (default)';
    return v ?? '';
  };
  const editFor = (k: string): Dlg | null =>
    k === 'memory' || k === 'swap' ? (can(acl, 'VM.Config.Memory') ? { t: 'memory' } : null) : ['cores', 'cpulimit', 'cpuunits'].includes(k) ? (can(acl, 'VM.Config.CPU') ? { t: 'cpu' } : null) : null;
  const mayDisk = can(acl, 'VM.Config.Disk');
  const isVol = !!sel && (sel === 'rootfs' || /^mp\d+$/.test(sel));
  return (
    <div data-testid="ct-resources">
      <Toolbar>
        <ToolbarContent>
          <ToolbarItem>
            <Button size="sm" variant="secondary" isDisabled={!mayDisk} onClick={() => setDlg({ t: 'mp-add' })} data-testid="res-add-mp">
              Add mount point
            </Button>
          </ToolbarItem>
          <ToolbarItem>
            <Button size="sm" variant="secondary" isDisabled={!sel || !editFor(sel)} onClick={() => sel && setDlg(editFor(sel))} data-testid="res-edit">
              Edit
            </Button>
          </ToolbarItem>
          <ToolbarItem>
            <Button size="sm" variant="secondary" isDisabled={!isVol || !mayDisk} onClick={() => sel && setDlg({ t: 'resize', key: sel })} data-testid="res-resize">
              Resize
            </Button>
          </ToolbarItem>
          <ToolbarItem>
            <Button size="sm" variant="secondary" isDisabled={!sel || !/^(mp|unused)\d+$/.test(sel) || !mayDisk} onClick={() => sel && setDlg({ t: 'remove', key: sel })} data-testid="res-remove">
              Remove
            </Button>
          </ToolbarItem>
        </ToolbarContent>
      </Toolbar>
      <ConfigTable rows={keys.map((k) => ({ key: k, label: LABELS[k] ?? (k.startsWith('mp') ? `Mount point (${k})` : `Unused disk (${k})`), show: show(k) }))}
        state={st} selected={sel} onSelect={setSel} onActivate={(k) => setDlg(editFor(k))} label="Resources" testPrefix="res" />
      {dlg?.t === 'memory' && (
        <KeysDialog obj={obj} state={st} title="Memory" onClose={() => setDlg(null)} fields={[
          { key: 'memory', label: 'Memory (MiB)', kind: 'number', placeholder: '512' },
          { key: 'swap', label: 'Swap (MiB)', kind: 'number', placeholder: '512' },
        ]} />
      )}
      {dlg?.t === 'cpu' && (
        <KeysDialog obj={obj} state={st} title="CPU" onClose={() => setDlg(null)} fields={[
          { key: 'cores', label: 'Cores', kind: 'number', placeholder: 'unlimited' },
          { key: 'cpulimit', label: 'CPU limit', kind: 'number', placeholder: 'unlimited' },
          { key: 'cpuunits', label: 'CPU units', kind: 'number', placeholder: '100' },
        ]} />
      )}
      {dlg?.t === 'mp-add' && <MountPointDialog obj={obj} st={st} onClose={() => setDlg(null)} />}
      {dlg?.t === 'resize' && <ResizeDialog obj={obj} st={st} disk={dlg.key} onClose={() => setDlg(null)} />}
      {dlg?.t === 'remove' && (
        <ConfirmModal title={`Remove ${dlg.key}`} body={dlg.key.startsWith('unused') ? `Destroy ${dlg.key} and its data?` : `Detach ${dlg.key}? The volume stays as an unused disk.`}
          isOpen onClose={() => setDlg(null)} onDone={st.reload} confirm={() => api.put(guestPath(obj, '/config'), { delete: dlg.key, digest: st.digest })} />
      )}
    </div>
  );
}

function MountPointDialog({ obj, st, onClose }: TabProps & { st: GuestConfigState; onClose: () => void }) {
  const key = `mp${Math.max(0, freeIndex(st.cfg.data ?? {}, 'mp', 255))}`;
  const stores = useStorages(obj.node ?? '', 'rootdir');
  const [storage, setStorage] = useState('');
  const [size, setSize] = useState('1');
  const [path, setPath] = useState('/mnt/data');
  const [backup, setBackup] = useState(false);
  const store = storage || stores.data?.[0]?.storage || '';
  return (
    <FormModal title={`Add: Mount point (${key})`} isOpen onClose={onClose} onDone={st.reload}
      submit={() => api.put(guestPath(obj, '/config'), { [key]: buildPropString({ file: `${store}:${size}`, mp: path, backup: backup ? 1 : undefined }, 'file'), digest: st.digest })}>
      {(err) => (
        <>
          <SelectF id="mp-storage" param={key} label="Storage" value={store} onChange={setStorage} options={(stores.data ?? []).map((s) => s.storage)} error={err} />
          <TextF id="mp-size" param={key} showError={false} label="Size (GiB)" value={size} onChange={setSize} type="number" />
          <TextF id="mp-path" param={key} showError={false} label="Path in the container" value={path} onChange={setPath} />
          <CheckF id="mp-backup" label="Include in backups" checked={backup} onChange={setBackup} />
        </>
      )}
    </FormModal>
  );
}

function ResizeDialog({ obj, st, disk, onClose }: TabProps & { st: GuestConfigState; disk: string; onClose: () => void }) {
  const [inc, setInc] = useState('1');
  return (
    <TaskModal title={`Resize ${disk}`} submitLabel="Resize" onClose={onClose} onDone={st.reload}
      submit={() => api.put<string | null>(guestPath(obj, '/resize'), { disk, size: `+${inc}G`, digest: st.digest })}>
      {(err) => <TextF id="ct-resize-size" param="size" label="Size increment (GiB)" value={inc} onChange={setInc} type="number" error={err} />}
    </TaskModal>
  );
}
