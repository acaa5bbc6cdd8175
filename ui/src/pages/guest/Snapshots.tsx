// Snapshots of a guest as a tree (parent links; "NOW" is the current state): take
// (with or without RAM for a running VM), roll back, delete, edit the description.
// Each action's task is followed in its dialog.

import { Button, Toolbar, ToolbarContent, ToolbarItem } from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { useState } from 'react';
import { api, seg } from '@/api';
import { ErrorAlert } from '@/components/ErrorAlert';
import { formatTime } from '@/components/format';
import { useApi } from '@/hooks/useApi';
import { useSession } from '@/hooks/session';
import type { TabProps } from '@/registry/registry';
import { AreaF, CheckF, TextF } from './fields';
import { aclPath, guestPath } from './paths';
import { TaskModal } from './TaskModal';

interface Snap {
  name: string;
  parent?: string;
  description?: string;
  snaptime?: number;
  vmstate?: number;
  running?: number;
}

/** Depth-first order with depth, children under their parent (by time). */
function flatten(list: Snap[]): { s: Snap; depth: number }[] {
  const byParent = new Map<string, Snap[]>();
  const names = new Set(list.map((s) => s.name));
  for (const s of list) {
    const p = s.parent && names.has(s.parent) ? s.parent : '';
    byParent.set(p, [...(byParent.get(p) ?? []), s]);
  }
  const out: { s: Snap; depth: number }[] = [];
  const walk = (p: string, depth: number) => {
    const kids = (byParent.get(p) ?? []).sort((a, b) => (a.name === 'current' ? 1 : b.name === 'current' ? -1 : (a.snaptime ?? 0) - (b.snaptime ?? 0)));
    for (const k of kids) {
      out.push({ s: k, depth });
      walk(k.name, depth + 1);
    }
  };
  walk('', 0);
  return out;
}

type Dlg = { t: 'take' } | { t: 'rollback' | 'delete' | 'edit'; name: string };

export default function Snapshots({ obj }: TabProps) {
  const { data, error, reload } = useApi<Snap[]>(guestPath(obj, '/snapshot'), undefined, { interval: 10000 });
  const { can } = useSession();
  const maySnap = can(aclPath(obj), 'VM.Snapshot');
  const mayRollback = maySnap || can(aclPath(obj), 'VM.Snapshot.Rollback');
  const [sel, setSel] = useState<string | null>(null);
  const [dlg, setDlg] = useState<Dlg | null>(null);
  const rows = flatten(data ?? []);
  const selected = sel && sel !== 'current' ? sel : null;
  return (
    <div data-testid="snapshots">
      <Toolbar>
        <ToolbarContent>
          {maySnap && (
            <ToolbarItem>
              <Button size="sm" onClick={() => setDlg({ t: 'take' })} data-testid="snapshot-take">
                Take snapshot
              </Button>
            </ToolbarItem>
          )}
          {mayRollback && (
            <ToolbarItem>
              <Button size="sm" variant="secondary" isDisabled={!selected} onClick={() => selected && setDlg({ t: 'rollback', name: selected })} data-testid="snapshot-rollback">
                Rollback
              </Button>
            </ToolbarItem>
          )}
          {maySnap && (
            <>
              <ToolbarItem>
                <Button size="sm" variant="secondary" isDisabled={!selected} onClick={() => selected && setDlg({ t: 'edit', name: selected })} data-testid="snapshot-edit">
                  Edit
                </Button>
              </ToolbarItem>
              <ToolbarItem>
                <Button size="sm" variant="danger" isDisabled={!selected} onClick={() => selected && setDlg({ t: 'delete', name: selected })} data-testid="snapshot-delete">
                  Remove
                </Button>
              </ToolbarItem>
            </>
          )}
        </ToolbarContent>
      </Toolbar>
      <ErrorAlert error={error} />
      <Table aria-label="Snapshots" variant="compact">
        <Thead>
          <Tr>
            <Th width={30}>Name</Th>
            <Th width={10}>RAM</Th>
            <Th width={20}>Date</Th>
            <Th>Description</Th>
          </Tr>
        </Thead>
        <Tbody>
          {rows.map(({ s, depth }) => (
            <Tr key={s.name} isClickable isRowSelected={sel === s.name} onRowClick={() => setSel(s.name)} data-testid={`snapshot-row-${s.name}`}>
              <Td dataLabel="Name">
                <span style={{ paddingLeft: depth * 16 }}>
                  {depth > 0 ? '└ ' : ''}
                  {s.name === 'current' ? <b>NOW</b> : s.name}
                </span>
              </Td>
              <Td dataLabel="RAM">{s.vmstate ? 'yes' : ''}</Td>
              <Td dataLabel="Date">{s.snaptime ? formatTime(s.snaptime) : ''}</Td>
              <Td dataLabel="Description" style={{ whiteSpace: 'pre-wrap' }}>{s.name === 'current' ? 'You are here!' : s.description ?? ''}</Td>
            </Tr>
          ))}
        </Tbody>
      </Table>
      {dlg?.t === 'take' && <TakeDialog obj={obj} onClose={() => setDlg(null)} onDone={reload} />}
      {dlg?.t === 'edit' && (
        <EditDialog obj={obj} name={dlg.name} description={data?.find((s) => s.name === dlg.name)?.description ?? ''} onClose={() => setDlg(null)} onDone={reload} />
      )}
      {dlg?.t === 'rollback' && (
        <TaskModal title={`Rollback to ${dlg.name}`} submitLabel="Rollback" onClose={() => setDlg(null)} onDone={reload}
          submit={() => api.post<string>(guestPath(obj, `/snapshot/${seg(dlg.name)}/rollback`))}>
          {() => <div>Roll back the guest to snapshot {dlg.name}? The current state is lost.</div>}
        </TaskModal>
      )}
      {dlg?.t === 'delete' && (
        <TaskModal title={`Remove snapshot ${dlg.name}`} submitLabel="Remove" onClose={() => setDlg(null)} onDone={() => { setSel(null); reload(); }}
          submit={() => api.del<string>(guestPath(obj, `/snapshot/${seg(dlg.name)}`))}>
          {() => <div>Remove snapshot {dlg.name}?</div>}
        </TaskModal>
      )}
    </div>
  );
}

function TakeDialog({ obj, onClose, onDone }: TabProps & { onClose: () => void; onDone: () => void }) {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const running = obj.resource?.status === 'running';
  const [vmstate, setVmstate] = useState(false);
  return (
    <TaskModal title="Take snapshot" submitLabel="Take snapshot" onClose={onClose} onDone={onDone} submitDisabled={!name} testId="snapshot-dialog"
      submit={() => api.post<string>(guestPath(obj, '/snapshot'), { snapname: name, description: description || undefined, vmstate: obj.kind === 'qemu' && running && vmstate ? 1 : undefined })}>
      {(err) => (
        <>
          <TextF id="snap-name" param="snapname" label="Name" value={name} onChange={setName} error={err} required />
          {obj.kind === 'qemu' && <CheckF id="snap-vmstate" param="vmstate" label="Include RAM" checked={vmstate} onChange={setVmstate} isDisabled={!running} error={err} />}
          <AreaF id="snap-description" param="description" label="Description" value={description} onChange={setDescription} error={err} />
        </>
      )}
    </TaskModal>
  );
}

function EditDialog({ obj, name, description, onClose, onDone }: TabProps & { name: string; description: string; onClose: () => void; onDone: () => void }) {
  const [desc, setDesc] = useState(description);
  return (
    <TaskModal title={`Edit snapshot ${name}`} onClose={onClose} onDone={() => { onDone(); onClose(); }}
      submit={() => api.put(guestPath(obj, `/snapshot/${seg(name)}/config`), { description: desc })}>
      {(err) => <AreaF id="snap-edit-description" param="description" label="Description" value={desc} onChange={setDesc} error={err} />}
    </TaskModal>
  );
}
