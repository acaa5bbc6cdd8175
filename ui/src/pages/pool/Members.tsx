// Members of a resource pool (GET /pools/{poolid}).

import { seg, type Resource } from '@/api';
import { DataTable, type Column } from '@/components/DataTable';
import { ErrorAlert } from '@/components/ErrorAlert';
import { useNavigation } from '@/hooks/navigation';
import { useApi } from '@/hooks/useApi';
import type { TabProps } from '@/registry/registry';

const COLUMNS: Column<Resource>[] = [
  { key: 'id', title: 'ID' },
  { key: 'type', title: 'Type', width: 10 },
  { key: 'name', title: 'Name', render: (r) => r.name ?? r.storage ?? '' },
  { key: 'node', title: 'Node', width: 15 },
  { key: 'status', title: 'Status', width: 10 },
];

export default function PoolMembers({ obj }: TabProps) {
  const { data, error } = useApi<{ members: Resource[]; comment?: string }>(`/pools/${seg(obj.pool ?? '')}`);
  const { navigate } = useNavigation();
  return (
    <div>
      <ErrorAlert error={error} />
      {data?.comment && <p>{data.comment}</p>}
      <DataTable label="Pool members" rows={data?.members ?? []} columns={COLUMNS} rowKey={(r) => r.id} onSelect={(r) => navigate(r.id)} />
    </div>
  );
}
