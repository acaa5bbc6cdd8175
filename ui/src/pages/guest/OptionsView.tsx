// An options view: one row per config key, each edited by its own small dialog
// (KeysDialog), with pending changes highlighted. qemu and lxc pass their key lists.

import { Button, Toolbar, ToolbarContent, ToolbarItem } from '@patternfly/react-core';
import { useState, type ReactNode } from 'react';
import { ErrorAlert } from '@/components/ErrorAlert';
import { Loading } from '@/layout/ContentPanel';
import { useSession } from '@/hooks/session';
import type { TabProps } from '@/registry/registry';
import { ConfigTable, KeysDialog, useGuestConfig, type GuestConfigState, type KeyField } from './ConfigTable';
import { aclPath } from './paths';

export interface OptionDef {
  /** the row's key (also the first field's key) */
  key: string;
  label: string;
  fields: KeyField[];
  /** privilege to edit */
  priv: string;
  show?: (v: string | undefined) => ReactNode;
  /** a custom editor instead of KeysDialog */
  editor?: (p: { st: GuestConfigState; onClose: () => void } & TabProps) => ReactNode;
}

export const yesNo = (def: boolean) => (v: string | undefined) => (v === undefined ? `${def ? 'Yes' : 'No'} (default)` : v === '1' ? 'Yes' : 'No');
export const orDefault = (d: string) => (v: string | undefined) => v ?? `${d} (default)`;

export function OptionsView({ obj, defs, testPrefix }: TabProps & { defs: OptionDef[]; testPrefix: string }) {
  const st = useGuestConfig(obj);
  const { can } = useSession();
  const [sel, setSel] = useState<string | null>(null);
  const [edit, setEdit] = useState<OptionDef | null>(null);
  if (!st.loaded) return st.error ? <ErrorAlert error={st.error} /> : <Loading />;
  const def = defs.find((d) => d.key === sel);
  const may = (d: OptionDef | undefined) => !!d && can(aclPath(obj), d.priv);
  return (
    <div data-testid={`${testPrefix}-view`}>
      <Toolbar>
        <ToolbarContent>
          <ToolbarItem>
            <Button size="sm" variant="secondary" isDisabled={!may(def)} onClick={() => def && setEdit(def)} data-testid={`${testPrefix}-edit`}>
              Edit
            </Button>
          </ToolbarItem>
        </ToolbarContent>
      </Toolbar>
      <ConfigTable
        rows={defs.map((d) => ({ key: d.key, label: d.label, show: d.show }))}
        state={st}
        selected={sel}
        onSelect={setSel}
        onActivate={(k) => {
          const d = defs.find((x) => x.key === k);
          if (may(d)) setEdit(d ?? null);
        }}
        label="Options"
        testPrefix={testPrefix}
      />
      {edit &&
        (edit.editor ? (
          edit.editor({ st, obj, onClose: () => setEdit(null) })
        ) : (
          <KeysDialog obj={obj} state={st} title={`Edit: ${edit.label}`} fields={edit.fields} onClose={() => setEdit(null)} />
        ))}
    </div>
  );
}
