// Storage status on one node: /nodes/{node}/storage/{storage}/status plus usage graph.

import { Card, CardBody, CardTitle, Label } from '@patternfly/react-core';
import { seg } from '@/api';
import { ErrorAlert } from '@/components/ErrorAlert';
import { formatBytes } from '@/components/format';
import { RrdGraphs, type GraphDef } from '@/components/RrdGraphs';
import { UsageBar } from '@/components/UsageBar';
import { useApi } from '@/hooks/useApi';
import type { TabProps } from '@/registry/registry';

interface StorageStatus {
  type: string;
  content: string;
  active?: number;
  enabled?: number;
  shared?: number;
  total?: number;
  used?: number;
  avail?: number;
}

const GRAPHS: GraphDef[] = [
  {
    title: 'Usage',
    unit: 'bytes',
    series: [
      { key: 'total', label: 'Total', color: '#8a8d90' },
      { key: 'used', label: 'Used', color: '#0066cc' },
    ],
  },
];

export default function StorageSummary({ obj }: TabProps) {
  const base = `/nodes/${seg(obj.node ?? '')}/storage/${seg(obj.storage ?? '')}`;
  const { data: s, error } = useApi<StorageStatus>(`${base}/status`, undefined, { interval: 5000 });
  return (
    <div data-testid="storage-summary">
      <ErrorAlert error={error} />
      <Card isCompact>
        <CardTitle>Status</CardTitle>
        <CardBody>
          <div className="pyxis-grid">
            <table className="pyxis-kv">
              <tbody>
                <tr><th>Type</th><td>{s?.type ?? '-'}</td></tr>
                <tr><th>Content</th><td>{s?.content?.split(',').join(', ') ?? '-'}</td></tr>
                <tr>
                  <th>State</th>
                  <td>
                    {s?.enabled === 0 ? <Label color="grey">disabled</Label> : s?.active ? <Label color="green">active</Label> : <Label color="red">inactive</Label>}
                  </td>
                </tr>
                <tr><th>Shared</th><td>{s?.shared ? 'yes' : 'no'}</td></tr>
                <tr><th>Available</th><td>{formatBytes(s?.avail)}</td></tr>
              </tbody>
            </table>
            <UsageBar title="Usage" used={s?.used} total={s?.total} />
          </div>
        </CardBody>
      </Card>
      <RrdGraphs path={`${base}/rrddata`} graphs={GRAPHS} />
    </div>
  );
}
