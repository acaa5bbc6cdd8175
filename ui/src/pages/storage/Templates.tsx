// Container templates from the appliance index (GET/POST /nodes/{node}/aplinfo, as
// `pveam available` / `pveam download`): pick one, the download runs as a task.

import { Modal, ModalVariant, Button } from '@patternfly/react-core';
import { useState } from 'react';
import { api, seg } from '@/api';
import { DataTable, type Column } from '@/components/DataTable';
import { ErrorAlert } from '@/components/ErrorAlert';
import { useApi } from '@/hooks/useApi';
import { useTasks } from '@/hooks/tasks';

interface Appliance {
  template: string;
  package: string;
  version: string;
  os: string;
  section: string;
  headline?: string;
}

const COLUMNS: Column<Appliance>[] = [
  { key: 'section', title: 'Section', width: 10 },
  { key: 'package', title: 'Package', width: 30 },
  { key: 'version', title: 'Version', width: 15 },
  { key: 'headline', title: 'Description' },
];

export function TemplatesDialog({ node, storage, onClose, onDone }: { node: string; storage: string; onClose: () => void; onDone: () => void }) {
  const { data, error } = useApi<Appliance[]>(`/nodes/${seg(node)}/aplinfo`);
  const [selected, setSelected] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<unknown>(undefined);
  const tasks = useTasks();
  const download = async () => {
    if (!selected) return;
    setBusy(true);
    try {
      const upid = await api.post<string>(`/nodes/${seg(node)}/aplinfo`, { storage, template: selected });
      tasks.started(upid);
      tasks.openTask(upid);
      onDone();
      onClose();
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal
      variant={ModalVariant.large}
      title="Templates"
      isOpen
      onClose={onClose}
      actions={[
        <Button key="dl" variant="primary" isDisabled={!selected || busy} isLoading={busy} onClick={download} data-testid="template-download">
          Download
        </Button>,
        <Button key="cancel" variant="link" onClick={onClose}>
          Cancel
        </Button>,
      ]}
    >
      <ErrorAlert error={error ?? err} />
      <DataTable label="Templates" rows={data ?? []} columns={COLUMNS} rowKey={(a) => a.template} selected={selected} onSelect={(a) => setSelected(a.template)} />
    </Modal>
  );
}
