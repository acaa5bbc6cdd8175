// Second factors (/access/tfa): list per user; add TOTP (secret + first code) or
// recovery keys (shown once); remove.

import { Alert, Button, ClipboardCopy } from '@patternfly/react-core';
import { useMemo, useState } from 'react';
import { api, seg } from '@/api';
import { DataTable, type Column } from '@/components/DataTable';
import { ErrorAlert } from '@/components/ErrorAlert';
import { ConfirmModal, FormModal } from '@/components/FormModal';
import { SelectField, TextField } from '@/components/forms';
import { formatTime } from '@/components/format';
import { useSession } from '@/hooks/session';
import { useApi } from '@/hooks/useApi';

interface TfaEntry {
  id: string;
  type: string;
  description?: string;
  created?: number;
  enable?: number;
}
interface TfaUser {
  userid: string;
  entries: TfaEntry[];
}
type Row = TfaEntry & { userid: string };

const key = (r: Row) => `${r.userid}/${r.id}`;
const COLUMNS: Column<Row>[] = [
  { key: 'userid', title: 'User' },
  { key: 'type', title: 'Type', width: 10 },
  { key: 'description', title: 'Description' },
  { key: 'created', title: 'Created', render: (r) => formatTime(r.created), width: 15 },
  { key: 'enable', title: 'Enabled', render: (r) => (r.enable === 0 ? 'No' : 'Yes'), width: 10 },
];

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
function randomSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(20));
  return Array.from(bytes, (b) => B32[b % 32]).join('');
}

export default function Tfa() {
  const { session } = useSession();
  const { data, error, reload } = useApi<TfaUser[]>('/access/tfa');
  const rows = useMemo<Row[]>(() => (data ?? []).flatMap((u) => u.entries.map((e) => ({ ...e, userid: u.userid }))), [data]);
  const [selected, setSelected] = useState<string | null>(null);
  const [modal, setModal] = useState<'add' | 'delete' | null>(null);
  const [form, setForm] = useState({ userid: session.username, type: 'totp', description: '', secret: randomSecret(), value: '', password: '' });
  const [recovery, setRecovery] = useState<string[] | null>(null);
  const sel = rows.find((r) => key(r) === selected);
  const otpauth = `otpauth://totp/${encodeURIComponent('Pyxis:' + form.userid)}?secret=${form.secret}&issuer=Pyxis&algorithm=SHA1&digits=6&period=30`;
  const needsPassword = session.username !== 'root@pam';

  return (
    <div data-testid="dc-tfa">
      <div className="pyxis-toolbar">
        <Button size="sm" onClick={() => { setForm({ ...form, secret: randomSecret(), value: '', description: '' }); setModal('add'); }}>
          Add
        </Button>
        <Button size="sm" variant="danger" isDisabled={!sel} onClick={() => setModal('delete')}>
          Remove
        </Button>
      </div>
      <ErrorAlert error={error} />
      {recovery && (
        <Alert variant="warning" isInline title="Recovery keys: store them safely, they are not shown again" actionClose={<Button variant="plain" onClick={() => setRecovery(null)}>×</Button>}>
          <ClipboardCopy isReadOnly isCode isExpanded variant="expansion">{recovery.join('\n')}</ClipboardCopy>
        </Alert>
      )}
      <DataTable label="Second factors" rows={rows} columns={COLUMNS} rowKey={key} selected={selected} onSelect={(r) => setSelected(key(r))} emptyText="No second factors" />
      {modal === 'add' && (
        <FormModal
          title="Add a second factor"
          isOpen
          onClose={() => setModal(null)}
          onDone={reload}
          submit={async () => {
            const res = await api.post<{ id: string; recovery?: string[] }>(`/access/tfa/${seg(form.userid)}`, {
              type: form.type,
              description: form.description || undefined,
              totp: form.type === 'totp' ? otpauth : undefined,
              value: form.type === 'totp' ? form.value : undefined,
              password: needsPassword ? form.password : undefined,
            });
            if (res?.recovery) setRecovery(res.recovery);
          }}
        >
          {(err) => (
            <>
              <TextField label="User" name="userid" value={form.userid} onChange={(v) => setForm({ ...form, userid: v })} error={err} required />
              <SelectField label="Type" name="type" value={form.type} onChange={(v) => setForm({ ...form, type: v })} options={[{ value: 'totp', label: 'TOTP' }, { value: 'recovery', label: 'Recovery keys' }]} error={err} />
              <TextField label="Description" name="description" value={form.description} onChange={(v) => setForm({ ...form, description: v })} error={err} />
              {form.type === 'totp' && (
                <>
                  <TextField label="Secret" name="totp" value={form.secret} onChange={(v) => setForm({ ...form, secret: v.toUpperCase() })} error={err} helper="enter it in your authenticator app (base32)" />
                  <TextField label="Verify code" name="value" value={form.value} onChange={(v) => setForm({ ...form, value: v })} error={err} required />
                </>
              )}
              {needsPassword && <TextField label="Your password" name="password" type="password" value={form.password} onChange={(v) => setForm({ ...form, password: v })} error={err} required />}
            </>
          )}
        </FormModal>
      )}
      {modal === 'delete' && sel && (
        <ConfirmModal title="Remove second factor" body={`Remove ${sel.type} '${sel.description ?? sel.id}' of ${sel.userid}?`} isOpen onClose={() => setModal(null)} confirm={() => api.del(`/access/tfa/${seg(sel.userid)}/${seg(sel.id)}`)} onDone={reload} confirmLabel="Remove" />
      )}
    </div>
  );
}
