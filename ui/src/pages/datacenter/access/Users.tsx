// Users (/access/users): list, add, edit, delete, change password (pve realm).

import { Button, Label } from '@patternfly/react-core';
import { useState } from 'react';
import { api, ApiError, seg } from '@/api';
import { DataTable, type Column } from '@/components/DataTable';
import { ErrorAlert } from '@/components/ErrorAlert';
import { ConfirmModal, FormModal } from '@/components/FormModal';
import { CheckField, TextField } from '@/components/forms';
import { formatTime } from '@/components/format';
import { useSession } from '@/hooks/session';
import { useApi } from '@/hooks/useApi';

export interface User {
  userid: string;
  enable?: number;
  expire?: number;
  firstname?: string;
  lastname?: string;
  email?: string;
  comment?: string;
  groups?: string | string[];
  'realm-type'?: string;
}

const groupsOf = (u: User) => (Array.isArray(u.groups) ? u.groups.join(',') : (u.groups ?? ''));

const COLUMNS: Column<User>[] = [
  { key: 'userid', title: 'User name' },
  { key: 'realm-type', title: 'Realm', render: (u) => u.userid.split('@')[1], width: 10 },
  { key: 'enable', title: 'Enabled', render: (u) => (u.enable === 0 ? <Label color="grey">No</Label> : 'Yes'), width: 10 },
  { key: 'expire', title: 'Expire', render: (u) => (u.expire ? formatTime(u.expire) : 'never'), width: 15 },
  { key: 'name', title: 'Name', render: (u) => [u.firstname, u.lastname].filter(Boolean).join(' ') },
  { key: 'groups', title: 'Groups', render: groupsOf },
  { key: 'comment', title: 'Comment' },
];

function UserEditor({ user, onClose, onDone }: { user?: User; onClose: () => void; onDone: () => void }) {
  const [v, setV] = useState({
    userid: user?.userid ?? '',
    password: '',
    confirm: '',
    firstname: user?.firstname ?? '',
    lastname: user?.lastname ?? '',
    email: user?.email ?? '',
    comment: user?.comment ?? '',
    groups: user ? groupsOf(user) : '',
    expire: user?.expire ? new Date(user.expire * 1000).toISOString().slice(0, 10) : '',
    enable: user ? user.enable !== 0 : true,
  });
  const set = (k: keyof typeof v) => (x: string | boolean) => setV((p) => ({ ...p, [k]: x }));
  const isPve = v.userid.endsWith('@pve');
  const submit = async () => {
    const expire = v.expire ? Math.floor(new Date(v.expire).getTime() / 1000) : 0;
    const common = {
      firstname: v.firstname || undefined,
      lastname: v.lastname || undefined,
      email: v.email || undefined,
      comment: v.comment || undefined,
      groups: v.groups || undefined,
      expire,
      enable: v.enable,
    };
    if (user) return api.put(`/access/users/${seg(user.userid)}`, common);
    if (v.password !== v.confirm) throw new ApiError(400, 'passwords do not match', { password: 'passwords do not match' });
    return api.post('/access/users', { userid: v.userid, password: isPve && v.password ? v.password : undefined, ...common });
  };
  return (
    <FormModal title={user ? `Edit user ${user.userid}` : 'Add user'} isOpen onClose={onClose} submit={submit} onDone={onDone}>
      {(error) => (
        <>
          <TextField label="User name" name="userid" value={v.userid} onChange={set('userid')} error={error} required isDisabled={!!user} helper="name@realm" autoFocus={!user} />
          {!user && isPve && (
            <>
              <TextField label="Password" name="password" type="password" value={v.password} onChange={set('password')} error={error} />
              <TextField label="Confirm password" name="confirm" type="password" value={v.confirm} onChange={set('confirm')} error={error} />
            </>
          )}
          <TextField label="Groups" name="groups" value={v.groups} onChange={set('groups')} error={error} helper="comma-separated" />
          <TextField label="Expire" name="expire" value={v.expire} onChange={set('expire')} error={error} helper="YYYY-MM-DD, empty = never" />
          <CheckField label="Enabled" name="enable" checked={v.enable} onChange={set('enable')} error={error} />
          <TextField label="First name" name="firstname" value={v.firstname} onChange={set('firstname')} error={error} />
          <TextField label="Last name" name="lastname" value={v.lastname} onChange={set('lastname')} error={error} />
          <TextField label="E-mail" name="email" value={v.email} onChange={set('email')} error={error} />
          <TextField label="Comment" name="comment" value={v.comment} onChange={set('comment')} error={error} />
        </>
      )}
    </FormModal>
  );
}

function PasswordEditor({ userid, onClose }: { userid: string; onClose: () => void }) {
  const [pw, setPw] = useState('');
  const [confirm, setConfirm] = useState('');
  return (
    <FormModal
      title={`Change password of ${userid}`}
      isOpen
      onClose={onClose}
      submit={async () => {
        if (pw !== confirm) throw new ApiError(400, 'passwords do not match', { 'confirmation-password': 'passwords do not match' });
        return api.put('/access/password', { userid, password: pw });
      }}
    >
      {(error) => (
        <>
          <TextField label="Password" name="password" type="password" value={pw} onChange={setPw} error={error} required autoFocus />
          <TextField label="Confirm" name="confirmation-password" type="password" value={confirm} onChange={setConfirm} error={error} required />
        </>
      )}
    </FormModal>
  );
}

export default function Users() {
  const { data, error, reload } = useApi<User[]>('/access/users');
  const { canAny, session } = useSession();
  const [selected, setSelected] = useState<string | null>(null);
  const [modal, setModal] = useState<'add' | 'edit' | 'delete' | 'password' | null>(null);
  const sel = (data ?? []).find((u) => u.userid === selected);
  const mayModify = canAny('User.Modify') || canAny('Realm.AllocateUser');
  return (
    <div data-testid="dc-users">
      <div className="pyxis-toolbar">
        {mayModify && (
          <>
            <Button size="sm" onClick={() => setModal('add')} data-testid="user-add">
              Add
            </Button>
            <Button size="sm" variant="secondary" isDisabled={!sel} onClick={() => setModal('edit')}>
              Edit
            </Button>
            <Button size="sm" variant="danger" isDisabled={!sel || sel.userid === 'root@pam'} onClick={() => setModal('delete')}>
              Remove
            </Button>
          </>
        )}
        <Button size="sm" variant="secondary" isDisabled={!sel?.userid.endsWith('@pve') || (!mayModify && sel?.userid !== session.username)} onClick={() => setModal('password')}>
          Password
        </Button>
      </div>
      <ErrorAlert error={error} />
      <DataTable label="Users" rows={data ?? []} columns={COLUMNS} rowKey={(u) => u.userid} selected={selected} onSelect={(u) => setSelected(u.userid)} onActivate={mayModify ? () => setModal('edit') : undefined} />
      {modal === 'add' && <UserEditor onClose={() => setModal(null)} onDone={reload} />}
      {modal === 'edit' && sel && <UserEditor user={sel} onClose={() => setModal(null)} onDone={reload} />}
      {modal === 'password' && sel && <PasswordEditor userid={sel.userid} onClose={() => setModal(null)} />}
      {modal === 'delete' && sel && (
        <ConfirmModal title="Remove user" body={`Remove user ${sel.userid}?`} isOpen onClose={() => setModal(null)} confirm={() => api.del(`/access/users/${seg(sel.userid)}`)} onDone={reload} confirmLabel="Remove" />
      )}
    </div>
  );
}
