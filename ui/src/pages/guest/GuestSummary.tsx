// Guest summary: status, usage, notes-like config overview and the rrddata graphs.

import { Card, CardBody, CardTitle } from '@patternfly/react-core';
import { lazy, Suspense } from 'react';
import { ErrorAlert } from '@/components/ErrorAlert';
import { formatBytes, formatDuration } from '@/components/format';
import type { GraphDef } from '@/components/RrdGraphs';
import { UsageBar } from '@/components/UsageBar';
import { Loading } from '@/layout/ContentPanel';
import { useApi } from '@/hooks/useApi';
import type { TabProps } from '@/registry/registry';
import { guestPath } from './paths';

const RrdGraphs = lazy(() => import('@/components/RrdGraphs'));

interface GuestStatus {
  status: string;
  name?: string;
  cpu?: number;
  cpus?: number;
  mem?: number;
  maxmem?: number;
  maxdisk?: number;
  maxswap?: number;
  swap?: number;
  uptime?: number;
  qmpstatus?: string;
  lock?: string;
  pid?: number;
  ha?: { managed?: number };
}

const GRAPHS: GraphDef[] = [
  { title: 'CPU usage', unit: 'percent', series: [{ key: 'cpu', label: 'CPU', color: '#0066cc', map: (v) => v * 100 }] },
  {
    title: 'Memory usage',
    unit: 'bytes',
    series: [
      { key: 'maxmem', label: 'Total', color: '#8a8d90' },
      { key: 'mem', label: 'Used', color: '#3e8635' },
    ],
  },
  {
    title: 'Network traffic',
    unit: 'bytes/s',
    series: [
      { key: 'netin', label: 'In', color: '#0066cc' },
      { key: 'netout', label: 'Out', color: '#f0ab00' },
    ],
  },
  {
    title: 'Disk IO',
    unit: 'bytes/s',
    series: [
      { key: 'diskread', label: 'Read', color: '#0066cc' },
      { key: 'diskwrite', label: 'Write', color: '#c9190b' },
    ],
  },
];

const SHOWN = ['name', 'hostname', 'ostype', 'memory', 'swap', 'cores', 'sockets', 'cpu', 'onboot', 'boot', 'agent', 'protection', 'tags', 'description', 'arch', 'unprivileged'];

export default function GuestSummary({ obj }: TabProps) {
  const st = useApi<GuestStatus>(guestPath(obj, '/status/current'), undefined, { interval: 3000 });
  const cfg = useApi<Record<string, string | number>>(guestPath(obj, '/config'), undefined, { interval: 10000 });
  const s = st.data;
  const c = cfg.data ?? {};
  return (
    <div data-testid="guest-summary">
      <div className="pyxis-grid">
        <Card isCompact>
          <CardTitle>Status</CardTitle>
          <CardBody>
            <ErrorAlert error={st.error} />
            <table className="pyxis-kv">
              <tbody>
                <tr><th>Status</th><td data-testid="guest-status">{s?.qmpstatus ?? s?.status ?? '-'}</td></tr>
                <tr><th>Uptime</th><td>{formatDuration(s?.uptime)}</td></tr>
                <tr><th>CPUs</th><td>{s?.cpus ?? '-'}</td></tr>
                <tr><th>Memory</th><td>{formatBytes(s?.maxmem)}</td></tr>
                {obj.kind === 'lxc' && <tr><th>Swap</th><td>{formatBytes(s?.maxswap)}</td></tr>}
                <tr><th>{obj.kind === 'qemu' ? 'Boot disk size' : 'Root disk size'}</th><td>{formatBytes(s?.maxdisk)}</td></tr>
                {s?.pid !== undefined && <tr><th>PID</th><td>{s.pid}</td></tr>}
                {s?.lock && <tr><th>Lock</th><td data-testid="guest-lock">{s.lock}</td></tr>}
              </tbody>
            </table>
            <UsageBar title="CPU usage" fraction={s?.cpu ?? 0} />
            <UsageBar title="Memory usage" used={s?.mem} total={s?.maxmem} />
          </CardBody>
        </Card>
        <Card isCompact>
          <CardTitle>Configuration</CardTitle>
          <CardBody>
            <ErrorAlert error={cfg.error} />
            <table className="pyxis-kv">
              <tbody>
                {SHOWN.filter((k) => c[k] !== undefined).map((k) => (
                  <tr key={k}>
                    <th>{k}</th>
                    <td className="pyxis-mono" style={{ whiteSpace: 'pre-wrap' }}>{String(c[k])}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </CardBody>
        </Card>
      </div>
      <Suspense fallback={<Loading />}>
        <RrdGraphs path={guestPath(obj, '/rrddata')} graphs={GRAPHS} />
      </Suspense>
    </div>
  );
}
