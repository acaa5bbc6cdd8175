// The storages of a node with their status (/nodes/{node}/storage); a click opens one.

import { Label } from '@patternfly/react-core';
import { seg } from '@/api';
import { DataTable, type Column } from '@/components/DataTable';
import { ErrorAlert } from '@/components/ErrorAlert';
import { formatBytes, formatPercent, ratio } from '@/components/format';
import { useNavigation } from '@/hooks/navigation';
import { useApi } from '@/hooks/useApi';
import type { TabProps } from '@/registry/registry';

interface NodeStorage {
  storage: string;
  type: string;
  content: string;
  active?: number;
  enabled?: number;
  shared?: number;
  total?: number;
  used?: number;
  avail?: number;
}

const COLUMNS: Column<NodeStorage>[] = [
  { key: 'storage', title: 'Name' },
  { key: 'type', title: 'Type', width: 10 },
  { key: 'content', title: 'Content', render: (s) => s.content.split(',').join(', ') },
  { key: 'active', title: 'Status', render: (s) => (s.enabled === 0 ? <Label color="grey">disabled</Label> : s.active ? <Label color="green">active</Label> : <Label color="red">inactive</Label>), width: 10 },
  { key: 'used', title: 'Usage', render: (s) => `${formatPercent(ratio(s.used, s.total))} (${formatBytes(s.used)} of ${formatBytes(s.total)})`, sortValue: (s) => ratio(s.used, s.total) },
];

export default function NodeStorageList({ obj }: TabProps) {
  const { data, error } = useApi<NodeStorage[]>(`/nodes/${seg(obj.node ?? '')}/storage`, undefined, { interval: 10000 });
  const { navigate } = useNavigation();
  return (
    <div>
      <ErrorAlert error={error} />
      <DataTable label="Storage" rows={data ?? []} columns={COLUMNS} rowKey={(s) => s.storage} onSelect={(s) => navigate(`storage/${obj.node}/${s.storage}`)} />
    </div>
  );
}
