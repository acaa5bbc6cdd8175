// A list with Add / Edit / Remove around one collection endpoint: groups, roles, pools
// and similar flat objects share it. Fields map 1:1 to API parameters.

import { Button } from '@patternfly/react-core';
import { useState } from 'react';
import { api, seg, type Params } from '@/api';
import { DataTable, type Column } from '@/components/DataTable';
import { ErrorAlert } from '@/components/ErrorAlert';
import { ConfirmModal, FormModal } from '@/components/FormModal';
import { TextField } from '@/components/forms';
import { useApi } from '@/hooks/useApi';

export interface CrudField {
  name: string;
  label: string;
  required?: boolean;
  /** the id field: set on create, fixed on edit */
  isId?: boolean;
  helper?: string;
}

export interface CrudProps<T> {
  noun: string;
  /** collection path (GET list, POST create) */
  path: string;
  /** item path for PUT/DELETE */
  itemPath: (row: T) => string;
  idOf: (row: T) => string;
  columns: Column<T>[];
  fields: CrudField[];
  mayEdit: boolean;
  testid: string;
  /** extra parameters of the update call (e.g. digest) */
  updateExtra?: (row: T) => Params;
  /** PUT to this path instead of itemPath (e.g. PUT /pools with poolid) */
  updatePath?: (row: T) => string;
}

export function SimpleCrud<T extends object>(p: CrudProps<T>) {
  const { data, error, reload } = useApi<T[]>(p.path);
  const [selected, setSelected] = useState<string | null>(null);
  const [modal, setModal] = useState<'add' | 'edit' | 'delete' | null>(null);
  const [values, setValues] = useState<Record<string, string>>({});
  const sel = (data ?? []).find((r) => p.idOf(r) === selected);

  const open = (mode: 'add' | 'edit') => {
    const init: Record<string, string> = {};
    for (const f of p.fields) {
      const raw = mode === 'edit' && sel ? (sel as Record<string, unknown>)[f.name] : '';
      init[f.name] = Array.isArray(raw) ? raw.join(',') : raw && typeof raw === 'object' ? Object.keys(raw).join(',') : String(raw ?? '');
    }
    setValues(init);
    setModal(mode);
  };

  const submit = () => {
    const params: Params = {};
    for (const f of p.fields) {
      if (modal === 'edit' && f.isId) continue;
      params[f.name] = values[f.name] === '' && modal === 'add' ? undefined : values[f.name];
    }
    if (modal === 'edit' && sel) return api.put((p.updatePath ?? p.itemPath)(sel), { ...params, ...(p.updateExtra?.(sel) ?? {}) });
    const idField = p.fields.find((f) => f.isId);
    if (idField) params[idField.name] = values[idField.name];
    return api.post(p.path, params);
  };

  return (
    <div data-testid={p.testid}>
      {p.mayEdit && (
        <div className="pyxis-toolbar">
          <Button size="sm" onClick={() => open('add')}>
            Create
          </Button>
          <Button size="sm" variant="secondary" isDisabled={!sel} onClick={() => open('edit')}>
            Edit
          </Button>
          <Button size="sm" variant="danger" isDisabled={!sel} onClick={() => setModal('delete')}>
            Remove
          </Button>
        </div>
      )}
      <ErrorAlert error={error} />
      <DataTable label={p.noun} rows={data ?? []} columns={p.columns} rowKey={p.idOf} selected={selected} onSelect={(r) => setSelected(p.idOf(r))} onActivate={p.mayEdit ? () => open('edit') : undefined} />
      {(modal === 'add' || modal === 'edit') && (
        <FormModal title={modal === 'add' ? `Create ${p.noun}` : `Edit ${p.noun} ${selected}`} isOpen onClose={() => setModal(null)} submit={submit} onDone={reload}>
          {(err) =>
            p.fields.map((f) => (
              <TextField
                key={f.name}
                label={f.label}
                name={f.name}
                value={values[f.name] ?? ''}
                onChange={(x) => setValues((v) => ({ ...v, [f.name]: x }))}
                error={err}
                required={f.required}
                helper={f.helper}
                isDisabled={modal === 'edit' && f.isId}
              />
            ))
          }
        </FormModal>
      )}
      {modal === 'delete' && sel && (
        <ConfirmModal title={`Remove ${p.noun}`} body={`Remove ${p.noun} ${p.idOf(sel)}?`} isOpen onClose={() => setModal(null)} confirm={() => api.del(p.itemPath(sel))} onDone={reload} confirmLabel="Remove" />
      )}
    </div>
  );
}

export { seg };
