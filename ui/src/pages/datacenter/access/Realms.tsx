// Authentication realms (/access/domains): list; add/edit/remove of pve, ldap, ad and
// openid realms with the common fields; sync for LDAP/AD.

import { Button } from '@patternfly/react-core';
import { useState } from 'react';
import { api, seg, type Domain } from '@/api';
import { DataTable, type Column } from '@/components/DataTable';
import { ErrorAlert } from '@/components/ErrorAlert';
import { ConfirmModal, FormModal } from '@/components/FormModal';
import { CheckField, SelectField, TextField } from '@/components/forms';
import { useSession } from '@/hooks/session';
import { useApi } from '@/hooks/useApi';

const COLUMNS: Column<Domain>[] = [
  { key: 'realm', title: 'Realm' },
  { key: 'type', title: 'Type', width: 10 },
  { key: 'tfa', title: 'TFA', width: 10 },
  { key: 'default', title: 'Default', render: (d) => (d.default ? 'Yes' : ''), width: 10 },
  { key: 'comment', title: 'Comment' },
];

const FIELDS: Record<string, { name: string; label: string; required?: boolean }[]> = {
  pve: [],
  ldap: [
    { name: 'server1', label: 'Server', required: true },
    { name: 'port', label: 'Port' },
    { name: 'base_dn', label: 'Base DN', required: true },
    { name: 'user_attr', label: 'User attribute', required: true },
    { name: 'bind_dn', label: 'Bind DN' },
    { name: 'password', label: 'Bind password' },
    { name: 'mode', label: 'Mode (ldap, ldaps, ldap+starttls)' },
  ],
  ad: [
    { name: 'domain', label: 'Domain', required: true },
    { name: 'server1', label: 'Server', required: true },
    { name: 'port', label: 'Port' },
    { name: 'mode', label: 'Mode (ldap, ldaps, ldap+starttls)' },
  ],
  openid: [
    { name: 'issuer-url', label: 'Issuer URL', required: true },
    { name: 'client-id', label: 'Client ID', required: true },
    { name: 'client-key', label: 'Client key' },
    { name: 'username-claim', label: 'Username claim' },
    { name: 'scopes', label: 'Scopes' },
  ],
};

function RealmEditor({ realm, onClose, onDone }: { realm?: Domain; onClose: () => void; onDone: () => void }) {
  const [type, setType] = useState(realm?.type ?? 'ldap');
  const [v, setV] = useState<Record<string, string>>({ realm: realm?.realm ?? '', comment: realm?.comment ?? '' });
  const [isDefault, setDefault] = useState(!!realm?.default);
  const loaded = useApi<Record<string, string | number>>(realm ? `/access/domains/${seg(realm.realm)}` : null);
  const val = (k: string) => v[k] ?? String(loaded.data?.[k] ?? '');
  const submit = () => {
    const params: Record<string, string | number | undefined> = { comment: val('comment') || undefined, default: isDefault ? 1 : undefined };
    for (const f of FIELDS[type] ?? []) if (v[f.name] !== undefined && v[f.name] !== '') params[f.name] = v[f.name];
    if (realm) return api.put(`/access/domains/${seg(realm.realm)}`, params);
    return api.post('/access/domains', { realm: v.realm, type, ...params });
  };
  return (
    <FormModal title={realm ? `Edit realm ${realm.realm}` : 'Add realm'} isOpen onClose={onClose} submit={submit} onDone={onDone}>
      {(error) => (
        <>
          <TextField label="Realm" name="realm" value={val('realm')} onChange={(x) => setV({ ...v, realm: x })} error={error} required isDisabled={!!realm} />
          <SelectField label="Type" name="type" value={type} onChange={setType} options={Object.keys(FIELDS).map((t) => ({ value: t, label: t }))} error={error} isDisabled={!!realm} />
          {(FIELDS[type] ?? []).map((f) => (
            <TextField key={f.name} label={f.label} name={f.name} value={val(f.name)} onChange={(x) => setV({ ...v, [f.name]: x })} error={error} required={f.required && !realm} type={f.name === 'password' || f.name === 'client-key' ? 'password' : 'text'} />
          ))}
          <CheckField label="Default realm" name="default" checked={isDefault} onChange={setDefault} error={error} />
          <TextField label="Comment" name="comment" value={val('comment')} onChange={(x) => setV({ ...v, comment: x })} error={error} />
        </>
      )}
    </FormModal>
  );
}

export default function Realms() {
  const { data, error, reload } = useApi<Domain[]>('/access/domains');
  const { can } = useSession();
  const [selected, setSelected] = useState<string | null>(null);
  const [modal, setModal] = useState<'add' | 'edit' | 'delete' | 'sync' | null>(null);
  const sel = (data ?? []).find((d) => d.realm === selected);
  const mayEdit = can('/access/domains', 'Realm.Allocate');
  const builtin = sel?.type === 'pam' || sel?.type === 'pve';
  return (
    <div data-testid="dc-realms">
      {mayEdit && (
        <div className="pyxis-toolbar">
          <Button size="sm" onClick={() => setModal('add')}>
            Add
          </Button>
          <Button size="sm" variant="secondary" isDisabled={!sel} onClick={() => setModal('edit')}>
            Edit
          </Button>
          <Button size="sm" variant="secondary" isDisabled={!sel || (sel.type !== 'ldap' && sel.type !== 'ad')} onClick={() => setModal('sync')}>
            Sync
          </Button>
          <Button size="sm" variant="danger" isDisabled={!sel || builtin} onClick={() => setModal('delete')}>
            Remove
          </Button>
        </div>
      )}
      <ErrorAlert error={error} />
      <DataTable label="Realms" rows={data ?? []} columns={COLUMNS} rowKey={(d) => d.realm} selected={selected} onSelect={(d) => setSelected(d.realm)} />
      {modal === 'add' && <RealmEditor onClose={() => setModal(null)} onDone={reload} />}
      {modal === 'edit' && sel && <RealmEditor realm={sel} onClose={() => setModal(null)} onDone={reload} />}
      {modal === 'sync' && sel && (
        <ConfirmModal title={`Sync realm ${sel.realm}`} body="Synchronise users and groups from the directory now (with the realm's sync defaults)?" isOpen onClose={() => setModal(null)} confirm={() => api.post(`/access/domains/${seg(sel.realm)}/sync`)} confirmLabel="Sync" />
      )}
      {modal === 'delete' && sel && (
        <ConfirmModal title="Remove realm" body={`Remove realm ${sel.realm}?`} isOpen onClose={() => setModal(null)} confirm={() => api.del(`/access/domains/${seg(sel.realm)}`)} onDone={reload} confirmLabel="Remove" />
      )}
    </div>
  );
}
