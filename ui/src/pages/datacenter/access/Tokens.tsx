// API tokens (/access/users/{userid}/token): of every user the viewer may see (or just
// their own), add (the secret is shown once), edit, remove.

import { Alert, Button, ClipboardCopy } from '@patternfly/react-core';
import { useEffect, useState } from 'react';
import { api, seg } from '@/api';
import { DataTable, type Column } from '@/components/DataTable';
import { ErrorAlert } from '@/components/ErrorAlert';
import { ConfirmModal, FormModal } from '@/components/FormModal';
import { CheckField, TextField } from '@/components/forms';
import { formatTime } from '@/components/format';
import { useSession } from '@/hooks/session';

interface Token {
  userid: string;
  tokenid: string;
  comment?: string;
  expire?: number;
  privsep?: number;
}

const key = (t: Token) => `${t.userid}!${t.tokenid}`;

const COLUMNS: Column<Token>[] = [
  { key: 'id', title: 'Token ID', render: key, sortValue: key },
  { key: 'privsep', title: 'Privilege separation', render: (t) => (t.privsep === 0 ? 'No' : 'Yes'), width: 15 },
  { key: 'expire', title: 'Expire', render: (t) => (t.expire ? formatTime(t.expire) : 'never'), width: 15 },
  { key: 'comment', title: 'Comment' },
];

export default function Tokens() {
  const { session, canAny } = useSession();
  const [tokens, setTokens] = useState<Token[]>([]);
  const [error, setError] = useState<unknown>(undefined);
  const [tick, setTick] = useState(0);
  const [selected, setSelected] = useState<string | null>(null);
  const [modal, setModal] = useState<'add' | 'delete' | null>(null);
  const [secret, setSecret] = useState<{ id: string; value: string } | null>(null);
  const [form, setForm] = useState({ userid: session.username, tokenid: '', comment: '', privsep: true });
  const reload = () => setTick((t) => t + 1);

  useEffect(() => {
    (async () => {
      try {
        const users = canAny('User.Modify') || canAny('Sys.Audit') ? (await api.get<{ userid: string }[]>('/access/users')).map((u) => u.userid) : [session.username];
        const lists = await Promise.all(
          users.map((u) =>
            api
              .get<Omit<Token, 'userid'>[]>(`/access/users/${seg(u)}/token`)
              .then((ts) => ts.map((t) => ({ ...t, userid: u })))
              .catch(() => [] as Token[]),
          ),
        );
        setTokens(lists.flat());
        setError(undefined);
      } catch (err) {
        setError(err);
      }
    })();
  }, [tick, session.username, canAny]);

  const sel = tokens.find((t) => key(t) === selected);
  return (
    <div data-testid="dc-tokens">
      <div className="pyxis-toolbar">
        <Button size="sm" onClick={() => setModal('add')}>
          Add
        </Button>
        <Button size="sm" variant="danger" isDisabled={!sel} onClick={() => setModal('delete')}>
          Remove
        </Button>
      </div>
      <ErrorAlert error={error} />
      {secret && (
        <Alert variant="warning" isInline title={`Secret of ${secret.id}: copy it now, it is not shown again`} actionClose={<Button variant="plain" onClick={() => setSecret(null)}>×</Button>}>
          <ClipboardCopy isReadOnly>{secret.value}</ClipboardCopy>
        </Alert>
      )}
      <DataTable label="API tokens" rows={tokens} columns={COLUMNS} rowKey={key} selected={selected} onSelect={(t) => setSelected(key(t))} />
      {modal === 'add' && (
        <FormModal
          title="Add API token"
          isOpen
          onClose={() => setModal(null)}
          onDone={reload}
          submit={async () => {
            const res = await api.post<{ 'full-tokenid': string; value: string }>(`/access/users/${seg(form.userid)}/token/${seg(form.tokenid)}`, {
              comment: form.comment || undefined,
              privsep: form.privsep,
            });
            setSecret({ id: res['full-tokenid'], value: res.value });
          }}
        >
          {(err) => (
            <>
              <TextField label="User" name="userid" value={form.userid} onChange={(v) => setForm({ ...form, userid: v })} error={err} required />
              <TextField label="Token ID" name="tokenid" value={form.tokenid} onChange={(v) => setForm({ ...form, tokenid: v })} error={err} required autoFocus />
              <CheckField label="Privilege separation" name="privsep" checked={form.privsep} onChange={(v) => setForm({ ...form, privsep: v })} error={err} />
              <TextField label="Comment" name="comment" value={form.comment} onChange={(v) => setForm({ ...form, comment: v })} error={err} />
            </>
          )}
        </FormModal>
      )}
      {modal === 'delete' && sel && (
        <ConfirmModal title="Remove API token" body={`Remove ${key(sel)}?`} isOpen onClose={() => setModal(null)} confirm={() => api.del(`/access/users/${seg(sel.userid)}/token/${seg(sel.tokenid)}`)} onDone={reload} confirmLabel="Remove" />
      )}
    </div>
  );
}
