// Datacenter storage configuration (/storage): list, add, edit, remove.
// Forms are built from the per-type field table in storageTypes.ts.

import { Button, Checkbox, Dropdown, DropdownItem, DropdownList, MenuToggle } from '@patternfly/react-core';
import { useState } from 'react';
import { api, seg, type StorageConfig } from '@/api';
import { DataTable, type Column } from '@/components/DataTable';
import { ErrorAlert } from '@/components/ErrorAlert';
import { ConfirmModal, FormModal } from '@/components/FormModal';
import { Field, SelectField, TextField } from '@/components/forms';
import { useResources } from '@/hooks/resources';
import { useSession } from '@/hooks/session';
import { useApi } from '@/hooks/useApi';
import { STORAGE_TYPES, storageType, type StorageField } from './storageTypes';

const COLUMNS: Column<StorageConfig>[] = [
  { key: 'storage', title: 'ID' },
  { key: 'type', title: 'Type', width: 10 },
  { key: 'content', title: 'Content', render: (s) => (s.content ?? '').split(',').join(', ') },
  { key: 'path', title: 'Path/Target', render: (s) => String(s.path ?? '') },
  { key: 'shared', title: 'Shared', render: (s) => (s.shared ? 'Yes' : 'No'), width: 10 },
  { key: 'disable', title: 'Enabled', render: (s) => (s.disable ? 'No' : 'Yes'), width: 10 },
];

type Values = Record<string, string | boolean>;

function FieldInput({ f, values, set, error, contents, isEdit }: { f: StorageField; values: Values; set: (k: string, v: string | boolean) => void; error: unknown; contents: string[]; isEdit: boolean }) {
  const v = values[f.name];
  const disabled = isEdit && !!f.createOnly;
  switch (f.kind) {
    case 'bool':
      return (
        <Field label={f.label} name={f.name} error={error}>
          <Checkbox id={`f-${f.name}`} isChecked={!!v} onChange={(_e, c) => set(f.name, c)} isDisabled={disabled} />
        </Field>
      );
    case 'content': {
      const chosen = new Set(String(v ?? '').split(',').filter(Boolean));
      return (
        <Field label={f.label} name={f.name} error={error}>
          {contents.map((c) => (
            <Checkbox
              key={c}
              id={`f-content-${c}`}
              label={c}
              isChecked={chosen.has(c)}
              onChange={(_e, on) => {
                if (on) chosen.add(c);
                else chosen.delete(c);
                set(f.name, [...chosen].join(','));
              }}
            />
          ))}
        </Field>
      );
    }
    case 'select':
      return <SelectField label={f.label} name={f.name} value={String(v ?? '')} onChange={(x) => set(f.name, x)} options={(f.options ?? []).map((o) => ({ value: o, label: o || 'Default' }))} error={error} isDisabled={disabled} />;
    case 'nodes':
    case 'text':
    case 'password':
      return (
        <TextField
          label={f.label}
          name={f.name}
          value={String(v ?? '')}
          onChange={(x) => set(f.name, x)}
          error={error}
          required={f.required}
          type={f.kind === 'password' ? 'password' : 'text'}
          helper={f.helper}
          isDisabled={disabled}
        />
      );
  }
}

function StorageEditor({ type, existing, onClose, onDone }: { type: string; existing?: StorageConfig; onClose: () => void; onDone: () => void }) {
  const def = storageType(type);
  const [id, setId] = useState(existing?.storage ?? '');
  const [values, setValues] = useState<Values>(() => {
    const init: Values = {};
    for (const f of def?.fields ?? []) {
      const raw = existing?.[f.name];
      init[f.name] = f.kind === 'bool' ? !!Number(raw ?? 0) : String(raw ?? (f.kind === 'content' && !existing ? 'iso,vztmpl,backup' : ''));
    }
    return init;
  });
  const set = (k: string, v: string | boolean) => setValues((prev) => ({ ...prev, [k]: v }));
  const submit = () => {
    const params: Record<string, string | number | undefined> = {};
    const del: string[] = [];
    for (const f of def?.fields ?? []) {
      if (existing && f.createOnly) continue;
      const v = values[f.name];
      if (f.kind === 'bool') {
        if (v) params[f.name] = 1;
        else if (existing) del.push(f.name);
      } else if (v !== '') params[f.name] = String(v);
      else if (existing && existing[f.name] !== undefined) del.push(f.name);
    }
    if (existing) {
      return api.put(`/storage/${seg(existing.storage)}`, { ...params, delete: del.length ? del.join(',') : undefined, digest: existing.digest });
    }
    return api.post('/storage', { storage: id, type, ...params });
  };
  return (
    <FormModal title={existing ? `Edit storage ${existing.storage} (${type})` : `Add ${def?.label ?? type} storage`} isOpen onClose={onClose} submit={submit} onDone={onDone} submitLabel={existing ? 'OK' : 'Add'}>
      {(error) => (
        <>
          <TextField label="ID" name="storage" value={id} onChange={setId} error={error} required isDisabled={!!existing} autoFocus={!existing} />
          {(def?.fields ?? []).map((f) => (
            <FieldInput key={f.name} f={f} values={values} set={set} error={error} contents={def?.contents ?? []} isEdit={!!existing} />
          ))}
        </>
      )}
    </FormModal>
  );
}

export default function StorageList() {
  const { data, error, reload } = useApi<StorageConfig[]>('/storage');
  const { reload: reloadResources } = useResources();
  const { can } = useSession();
  const [selected, setSelected] = useState<string | null>(null);
  const [adding, setAdding] = useState<string | null>(null);
  const [editing, setEditing] = useState<StorageConfig | null>(null);
  const [removing, setRemoving] = useState(false);
  const [addOpen, setAddOpen] = useState(false);
  const [loadErr, setLoadErr] = useState<unknown>(undefined);
  const sel = (data ?? []).find((s) => s.storage === selected);
  const mayEdit = can('/storage', 'Datastore.Allocate');
  const done = () => {
    reload();
    reloadResources();
  };
  const edit = async (s: StorageConfig) => {
    try {
      setEditing(await api.get<StorageConfig>(`/storage/${seg(s.storage)}`));
    } catch (err) {
      setLoadErr(err);
    }
  };
  return (
    <div data-testid="dc-storage">
      {mayEdit && (
        <div className="pyxis-toolbar">
          <Dropdown
            isOpen={addOpen}
            onOpenChange={setAddOpen}
            onSelect={() => setAddOpen(false)}
            toggle={(ref) => (
              <MenuToggle ref={ref} variant="primary" onClick={() => setAddOpen(!addOpen)} isExpanded={addOpen} data-testid="storage-add">
                Add
              </MenuToggle>
            )}
          >
            <DropdownList>
              {STORAGE_TYPES.map((t) => (
                <DropdownItem key={t.type} onClick={() => setAdding(t.type)} data-testid={`storage-add-${t.type}`}>
                  {t.label}
                </DropdownItem>
              ))}
            </DropdownList>
          </Dropdown>
          <Button size="sm" variant="secondary" isDisabled={!sel} onClick={() => sel && edit(sel)}>
            Edit
          </Button>
          <Button size="sm" variant="danger" isDisabled={!sel} onClick={() => setRemoving(true)}>
            Remove
          </Button>
        </div>
      )}
      <ErrorAlert error={error ?? loadErr} />
      <DataTable label="Storage" rows={data ?? []} columns={COLUMNS} rowKey={(s) => s.storage} selected={selected} onSelect={(s) => setSelected(s.storage)} onActivate={mayEdit ? edit : undefined} />
      {adding && <StorageEditor type={adding} onClose={() => setAdding(null)} onDone={done} />}
      {editing && <StorageEditor type={editing.type} existing={editing} onClose={() => setEditing(null)} onDone={done} />}
      {removing && sel && (
        <ConfirmModal title="Remove storage" body={`Remove the storage definition '${sel.storage}'? The data on it is kept.`} isOpen onClose={() => setRemoving(false)} confirm={() => api.del(`/storage/${seg(sel.storage)}`)} onDone={done} confirmLabel="Remove" />
      )}
    </div>
  );
}
