// Permissions (/access/acl): who has which role on which path; add for user, group or
// token; remove.

import { Button } from '@patternfly/react-core';
import { useState } from 'react';
import { api } from '@/api';
import { DataTable, type Column } from '@/components/DataTable';
import { ErrorAlert } from '@/components/ErrorAlert';
import { ConfirmModal, FormModal } from '@/components/FormModal';
import { CheckField, SelectField, TextField } from '@/components/forms';
import { useSession } from '@/hooks/session';
import { useApi } from '@/hooks/useApi';

interface AclEntry {
  path: string;
  type: 'user' | 'group' | 'token';
  ugid: string;
  roleid: string;
  propagate?: number;
}

const key = (a: AclEntry) => `${a.path}|${a.type}|${a.ugid}|${a.roleid}`;
const PARAM = { user: 'users', group: 'groups', token: 'tokens' } as const;

const COLUMNS: Column<AclEntry>[] = [
  { key: 'path', title: 'Path' },
  { key: 'type', title: 'Type', width: 10 },
  { key: 'ugid', title: 'User/Group/Token' },
  { key: 'roleid', title: 'Role' },
  { key: 'propagate', title: 'Propagate', render: (a) => (a.propagate === 0 ? 'No' : 'Yes'), width: 10 },
];

function AclEditor({ onClose, onDone }: { onClose: () => void; onDone: () => void }) {
  const roles = useApi<{ roleid: string }[]>('/access/roles');
  const [type, setType] = useState<AclEntry['type']>('user');
  const [path, setPath] = useState('/');
  const [who, setWho] = useState('');
  const [role, setRole] = useState('PVEAuditor');
  const [propagate, setPropagate] = useState(true);
  return (
    <FormModal
      title={`Add ${type} permission`}
      isOpen
      onClose={onClose}
      onDone={onDone}
      submit={() => api.put('/access/acl', { path, roles: role, [PARAM[type]]: who, propagate })}
    >
      {(error) => (
        <>
          <SelectField label="Type" name="type" value={type} onChange={(v) => setType(v as AclEntry['type'])} options={['user', 'group', 'token'].map((t) => ({ value: t, label: t }))} />
          <TextField label="Path" name="path" value={path} onChange={setPath} error={error} required helper="/, /vms/100, /storage/local, /pool/x, /nodes/n1 ..." />
          <TextField label={type === 'user' ? 'User' : type === 'group' ? 'Group' : 'API token'} name={PARAM[type]} value={who} onChange={setWho} error={error} required />
          <SelectField label="Role" name="roles" value={role} onChange={setRole} options={(roles.data ?? [{ roleid: role }]).map((r) => ({ value: r.roleid, label: r.roleid }))} error={error} />
          <CheckField label="Propagate" name="propagate" checked={propagate} onChange={setPropagate} error={error} />
        </>
      )}
    </FormModal>
  );
}

export default function Acl() {
  const { data, error, reload } = useApi<AclEntry[]>('/access/acl');
  const { canAny } = useSession();
  const [selected, setSelected] = useState<string | null>(null);
  const [modal, setModal] = useState<'add' | 'delete' | null>(null);
  const sel = (data ?? []).find((a) => key(a) === selected);
  const mayEdit = canAny('Permissions.Modify');
  return (
    <div data-testid="dc-acl">
      {mayEdit && (
        <div className="pyxis-toolbar">
          <Button size="sm" onClick={() => setModal('add')} data-testid="acl-add">
            Add
          </Button>
          <Button size="sm" variant="danger" isDisabled={!sel} onClick={() => setModal('delete')}>
            Remove
          </Button>
        </div>
      )}
      <ErrorAlert error={error} />
      <DataTable label="Permissions" rows={data ?? []} columns={COLUMNS} rowKey={key} selected={selected} onSelect={(a) => setSelected(key(a))} />
      {modal === 'add' && <AclEditor onClose={() => setModal(null)} onDone={reload} />}
      {modal === 'delete' && sel && (
        <ConfirmModal
          title="Remove permission"
          body={`Remove role ${sel.roleid} of ${sel.ugid} on ${sel.path}?`}
          isOpen
          onClose={() => setModal(null)}
          confirm={() => api.put('/access/acl', { path: sel.path, roles: sel.roleid, [PARAM[sel.type]]: sel.ugid, delete: 1 })}
          onDone={reload}
          confirmLabel="Remove"
        />
      )}
    </div>
  );
}
