// Config rows with pending changes (GET .../pending): the table of the hardware,
// resources, options and DNS views, and a generic dialog editing plain config keys.

import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { useState, type ReactNode } from 'react';
import { api, type Params } from '@/api';
import { FormModal } from '@/components/FormModal';
import { useApi } from '@/hooks/useApi';
import type { ObjectRef } from '@/registry/registry';
import { isPending, type GuestConfig, type PendingItem } from './config';
import { AreaF, CheckF, SelectF, TextF, type Opt } from './fields';
import { guestPath } from './paths';

export interface Row {
  key: string;
  label: string;
  icon?: ReactNode;
  /** the value shown (formatted); default: the raw value */
  show?: (v: string | undefined) => ReactNode;
}

/** Config + pending of a guest, polled; `eff(key)` is the value after pending changes. */
export function useGuestConfig(obj: ObjectRef) {
  const cfg = useApi<GuestConfig>(guestPath(obj, '/config'), undefined, { interval: 5000 });
  const pending = useApi<PendingItem[]>(guestPath(obj, '/pending'), undefined, { interval: 5000 });
  const map = new Map<string, PendingItem>();
  for (const it of pending.data ?? []) map.set(it.key, it);
  const reload = () => {
    cfg.reload();
    pending.reload();
  };
  /** the value it will have (pending if any) as a string, undefined when unset/deleted */
  const eff = (key: string): string | undefined => {
    const it = map.get(key);
    if (it) {
      if (it.delete) return undefined;
      const v = it.pending ?? it.value;
      return v === undefined ? undefined : String(v);
    }
    const v = cfg.data?.[key];
    return v === undefined ? undefined : String(v);
  };
  return { cfg, pending, map, reload, eff, digest: cfg.data?.digest as string | undefined, error: cfg.error ?? pending.error, loaded: !!cfg.data && !!pending.data };
}

export type GuestConfigState = ReturnType<typeof useGuestConfig>;

export function ConfigTable(p: {
  rows: Row[];
  state: GuestConfigState;
  selected: string | null;
  onSelect: (key: string) => void;
  onActivate?: (key: string) => void;
  label: string;
  testPrefix: string;
}) {
  return (
    <Table aria-label={p.label} variant="compact" data-testid={`${p.testPrefix}-table`}>
      <Thead>
        <Tr>
          <Th width={25}>Key</Th>
          <Th>Value</Th>
        </Tr>
      </Thead>
      <Tbody>
        {p.rows.map((r) => {
          const it = p.state.map.get(r.key);
          const cur = it ? (it.value === undefined ? undefined : String(it.value)) : p.state.cfg.data?.[r.key] === undefined ? undefined : String(p.state.cfg.data?.[r.key]);
          const pend = isPending(it);
          const show = r.show ?? ((v: string | undefined) => v ?? '');
          return (
            <Tr
              key={r.key}
              isClickable
              isRowSelected={p.selected === r.key}
              onRowClick={() => p.onSelect(r.key)}
              onDoubleClick={() => p.onActivate?.(r.key)}
              data-testid={`${p.testPrefix}-row-${r.key}`}
              data-pending={pend ? '1' : undefined}
            >
              <Td dataLabel="Key">
                {r.icon} {r.label}
              </Td>
              <Td dataLabel="Value" className="pyxis-mono">
                {!pend && show(cur)}
                {pend && (
                  <span title="pending: applied at the next start">
                    {cur !== undefined && <span style={{ textDecoration: 'line-through', opacity: 0.6 }}>{show(cur)}</span>}{' '}
                    <span style={{ color: 'var(--pf-v5-global--danger-color--100)', fontWeight: 600 }} data-testid={`${p.testPrefix}-pending-${r.key}`}>
                      {it?.delete ? '(delete)' : show(it?.pending === undefined ? undefined : String(it.pending))}
                    </span>
                  </span>
                )}
              </Td>
            </Tr>
          );
        })}
      </Tbody>
    </Table>
  );
}

export interface KeyField {
  key: string;
  label: string;
  kind: 'text' | 'number' | 'select' | 'bool' | 'area' | 'password';
  options?: Opt[];
  /** shown when unset (bool: the default state) */
  placeholder?: string;
  boolDefault?: boolean;
  helper?: string;
}

/** Edit plain config keys: a changed field is set, an emptied one deleted (back to default). */
export function KeysDialog(p: {
  obj: ObjectRef;
  title: string;
  fields: KeyField[];
  state: GuestConfigState;
  onClose: () => void;
  /** use POST (a task) instead of PUT */
  async?: boolean;
  extra?: Params;
}) {
  const initial = Object.fromEntries(p.fields.map((f) => [f.key, p.state.eff(f.key) ?? '']));
  const [vals, setVals] = useState<Record<string, string>>(initial);
  const set = (k: string) => (v: string) => setVals((o) => ({ ...o, [k]: v }));
  const submit = () => {
    const params: Params = { digest: p.state.digest, ...p.extra };
    const del: string[] = [];
    for (const f of p.fields) {
      const v = vals[f.key];
      if (v === initial[f.key]) continue;
      if (v === '') del.push(f.key);
      else params[f.key] = v;
    }
    if (del.length) params.delete = del.join(',');
    const path = guestPath(p.obj, '/config');
    return p.async ? api.post<string | null>(path, params) : api.put<null>(path, params);
  };
  return (
    <FormModal title={p.title} isOpen onClose={p.onClose} submit={submit} onDone={p.state.reload}>
      {(err) => (
        <>
          {p.fields.map((f) => {
            const id = `cfg-${f.key}`;
            const v = vals[f.key];
            switch (f.kind) {
              case 'bool': {
                const on = v === '' ? !!f.boolDefault : v === '1';
                return <CheckF key={f.key} id={id} param={f.key} label={f.label} checked={on} onChange={(c) => set(f.key)(c ? '1' : '0')} error={err} helper={f.helper} />;
              }
              case 'select':
                return <SelectF key={f.key} id={id} param={f.key} label={f.label} value={v} onChange={set(f.key)} options={f.options ?? []} error={err} helper={f.helper} />;
              case 'area':
                return <AreaF key={f.key} id={id} param={f.key} label={f.label} value={v} onChange={set(f.key)} error={err} helper={f.helper} />;
              default:
                return (
                  <TextF key={f.key} id={id} param={f.key} label={f.label} value={v} onChange={set(f.key)} error={err} helper={f.helper}
                    type={f.kind === 'number' ? 'number' : f.kind === 'password' ? 'password' : 'text'} placeholder={f.placeholder} />
                );
            }
          })}
        </>
      )}
    </FormModal>
  );
}
