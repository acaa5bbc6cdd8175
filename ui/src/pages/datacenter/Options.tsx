// Datacenter options (/cluster/options, datacenter.cfg): view and edit one at a time.

import { Button } from '@patternfly/react-core';
import { useState } from 'react';
import { api } from '@/api';
import { DataTable, type Column } from '@/components/DataTable';
import { ErrorAlert } from '@/components/ErrorAlert';
import { FormModal } from '@/components/FormModal';
import { SelectField, TextField } from '@/components/forms';
import { useSession } from '@/hooks/session';
import { useApi } from '@/hooks/useApi';

interface OptionDef {
  key: string;
  title: string;
  choices?: string[];
  helper?: string;
  defaultText: string;
}

const OPTIONS: OptionDef[] = [
  { key: 'keyboard', title: 'Keyboard layout', defaultText: 'Default', choices: ['', 'de', 'de-ch', 'da', 'en-gb', 'en-us', 'es', 'fi', 'fr', 'fr-be', 'fr-ca', 'fr-ch', 'hu', 'is', 'it', 'ja', 'lt', 'mk', 'nl', 'no', 'pl', 'pt', 'pt-br', 'sv', 'sl', 'tr'] },
  { key: 'language', title: 'Language', defaultText: 'Default (English)' },
  { key: 'console', title: 'Console viewer', defaultText: 'Default (xterm.js / noVNC)', choices: ['', 'html5', 'xtermjs', 'vv', 'applet'] },
  { key: 'http_proxy', title: 'HTTP proxy', defaultText: 'none', helper: 'http://host:port' },
  { key: 'email_from', title: 'Email from address', defaultText: 'root@$hostname' },
  { key: 'mac_prefix', title: 'MAC address prefix', defaultText: 'BC:24:11' },
  { key: 'migration', title: 'Migration settings', defaultText: 'Default', helper: 'type=secure|insecure[,network=CIDR]' },
  { key: 'max_workers', title: 'Maximal workers/bulk-action', defaultText: '4' },
  { key: 'next-id', title: 'Next free VMID range', defaultText: 'Default (100 - 1000000)', helper: 'lower=100,upper=1000000' },
  { key: 'fencing', title: 'HA fencing', defaultText: 'watchdog', choices: ['', 'watchdog', 'hardware', 'both'] },
  { key: 'description', title: 'Notes', defaultText: '' },
];

type Row = OptionDef & { value: string };

export default function Options() {
  const { data, error, reload } = useApi<Record<string, unknown>>('/cluster/options');
  const { can } = useSession();
  const [selected, setSelected] = useState<string | null>(null);
  const [editing, setEditing] = useState<Row | null>(null);
  const [value, setValue] = useState('');
  const fmt = (v: unknown) => (v === undefined || v === null ? '' : typeof v === 'object' ? Object.entries(v as object).map(([k, x]) => `${k}=${x}`).join(',') : String(v));
  const rows: Row[] = OPTIONS.map((o) => ({ ...o, value: fmt(data?.[o.key]) }));
  const sel = rows.find((r) => r.key === selected);
  const mayEdit = can('/', 'Sys.Modify');
  const columns: Column<Row>[] = [
    { key: 'title', title: 'Option', width: 30 },
    { key: 'value', title: 'Value', render: (r) => r.value || <i>{r.defaultText}</i> },
  ];
  const open = (r: Row) => {
    setEditing(r);
    setValue(r.value);
  };
  return (
    <div data-testid="dc-options">
      {mayEdit && (
        <div className="pyxis-toolbar">
          <Button size="sm" isDisabled={!sel} onClick={() => sel && open(sel)}>
            Edit
          </Button>
        </div>
      )}
      <ErrorAlert error={error} />
      <DataTable label="Options" rows={rows} columns={columns} rowKey={(r) => r.key} selected={selected} onSelect={(r) => setSelected(r.key)} onActivate={mayEdit ? open : undefined} />
      {editing && (
        <FormModal
          title={`Edit: ${editing.title}`}
          isOpen
          onClose={() => setEditing(null)}
          onDone={reload}
          submit={() => api.put('/cluster/options', value === '' ? { delete: editing.key } : { [editing.key]: value })}
        >
          {(err) =>
            editing.choices ? (
              <SelectField label={editing.title} name={editing.key} value={value} onChange={setValue} options={editing.choices.map((c) => ({ value: c, label: c || editing.defaultText }))} error={err} />
            ) : (
              <TextField label={editing.title} name={editing.key} value={value} onChange={setValue} error={err} helper={editing.helper ?? `empty = ${editing.defaultText}`} autoFocus />
            )
          }
        </FormModal>
      )}
    </div>
  );
}
