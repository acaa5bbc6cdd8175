// Node summary: status (/nodes/{node}/status) and live graphs (/nodes/{node}/rrddata).

import { Card, CardBody, CardTitle } from '@patternfly/react-core';
import { seg } from '@/api';
import { ErrorAlert } from '@/components/ErrorAlert';
import { formatBytes, formatDuration } from '@/components/format';
import { RrdGraphs, type GraphDef } from '@/components/RrdGraphs';
import { UsageBar } from '@/components/UsageBar';
import { useApi } from '@/hooks/useApi';
import type { TabProps } from '@/registry/registry';

interface NodeStatus {
  cpu?: number;
  wait?: number;
  loadavg?: string[];
  uptime?: number;
  kversion?: string;
  pveversion?: string;
  cpuinfo?: { model?: string; cpus?: number; sockets?: number; cores?: number };
  memory?: { used?: number; total?: number; free?: number };
  swap?: { used?: number; total?: number };
  rootfs?: { used?: number; total?: number; avail?: number };
  'boot-info'?: { mode?: string };
  'current-kernel'?: { release?: string; sysname?: string };
}

const GRAPHS: GraphDef[] = [
  {
    title: 'CPU usage',
    unit: 'percent',
    series: [
      { key: 'cpu', label: 'CPU', map: (v) => v * 100, color: '#0066cc' },
      { key: 'iowait', label: 'IO delay', map: (v) => v * 100, color: '#c9190b' },
    ],
  },
  { title: 'Server load', unit: 'number', series: [{ key: 'loadavg', label: 'Load average', color: '#5752d1' }] },
  {
    title: 'Memory usage',
    unit: 'bytes',
    series: [
      { key: 'memtotal', label: 'Total', color: '#8a8d90' },
      { key: 'memused', label: 'Used', color: '#3e8635' },
    ],
  },
  {
    title: 'Network traffic',
    unit: 'bytes/s',
    series: [
      { key: 'netin', label: 'In', color: '#009596' },
      { key: 'netout', label: 'Out', color: '#ec7a08' },
    ],
  },
  {
    title: 'Root disk',
    unit: 'bytes',
    series: [
      { key: 'roottotal', label: 'Total', color: '#8a8d90' },
      { key: 'rootused', label: 'Used', color: '#0066cc' },
    ],
  },
];

export default function NodeSummary({ obj }: TabProps) {
  const node = seg(obj.node ?? '');
  const { data: s, error } = useApi<NodeStatus>(`/nodes/${node}/status`, undefined, { interval: 3000 });
  return (
    <div data-testid="node-summary">
      <ErrorAlert error={error} />
      <Card isCompact>
        <CardTitle>{obj.node} (uptime {formatDuration(s?.uptime)})</CardTitle>
        <CardBody>
          <div className="pyxis-grid">
            <div>
              <UsageBar title="CPU usage" fraction={s?.cpu ?? 0} />
              <UsageBar title="Memory usage" used={s?.memory?.used} total={s?.memory?.total} />
              <UsageBar title="Root FS" used={s?.rootfs?.used} total={s?.rootfs?.total} />
              {!!s?.swap?.total && <UsageBar title="Swap" used={s.swap.used} total={s.swap.total} />}
            </div>
            <table className="pyxis-kv">
              <tbody>
                <tr><th>CPU(s)</th><td>{s?.cpuinfo ? `${s.cpuinfo.cpus} x ${s.cpuinfo.model ?? ''}` : '-'}</td></tr>
                <tr><th>Load average</th><td>{s?.loadavg?.join(', ') ?? '-'}</td></tr>
                <tr><th>IO delay</th><td>{s?.wait !== undefined ? `${(s.wait * 100).toFixed(2)}%` : '-'}</td></tr>
                <tr><th>Kernel</th><td>{s?.kversion ?? s?.['current-kernel']?.release ?? '-'}</td></tr>
                <tr><th>Boot mode</th><td>{s?.['boot-info']?.mode ?? '-'}</td></tr>
                <tr><th>Version</th><td>{s?.pveversion ?? '-'}</td></tr>
                <tr><th>Memory</th><td>{formatBytes(s?.memory?.used)} of {formatBytes(s?.memory?.total)}</td></tr>
              </tbody>
            </table>
          </div>
        </CardBody>
      </Card>
      <RrdGraphs path={`/nodes/${node}/rrddata`} graphs={GRAPHS} />
    </div>
  );
}
