// Datacenter summary: health (quorum, nodes online), guest counts, cluster-wide usage.
// Everything comes from /cluster/resources (already polled) plus /cluster/status;
// kept in the main chunk because it is the first page after login.

import { Card, CardBody, CardTitle, Label } from '@patternfly/react-core';
import { useEffect } from 'react';

import type { ClusterStatusItem } from '@/api';
import { ErrorAlert } from '@/components/ErrorAlert';
import { UsageBar } from '@/components/UsageBar';
import { useResources } from '@/hooks/resources';
import { useSession } from '@/hooks/session';
import { useApi } from '@/hooks/useApi';


export function DatacenterSummary() {
  const { resources, loaded } = useResources();
  const { can } = useSession();
  useEffect(() => {
    // for the e2e tier's first-paint measurement: the summary is on screen with data
    if (loaded && !performance.getEntriesByName('pyxis:dc-summary').length) performance.mark('pyxis:dc-summary');
  }, [loaded]);
  const status = useApi<ClusterStatusItem[]>(can('/', 'Sys.Audit') ? '/cluster/status' : null, undefined, { interval: 5000 });
  const nodes = resources.filter((r) => r.type === 'node');
  const online = nodes.filter((n) => n.status === 'online');
  const vms = resources.filter((r) => r.type === 'qemu' && !r.template);
  const cts = resources.filter((r) => r.type === 'lxc' && !r.template);
  const storages = resources.filter((r) => r.type === 'storage');
  const cluster = status.data?.find((s) => s.type === 'cluster');
  const quorate = cluster ? !!cluster.quorate : online.length > 0;
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const cpu = sum(online.map((n) => (n.cpu ?? 0) * (n.maxcpu ?? 0)));
  const maxcpu = sum(online.map((n) => n.maxcpu ?? 0));
  const mem = sum(online.map((n) => n.mem ?? 0));
  const maxmem = sum(online.map((n) => n.maxmem ?? 0));
  const disk = sum(storages.map((s) => s.disk ?? 0));
  const maxdisk = sum(storages.map((s) => s.maxdisk ?? 0));
  const running = (xs: typeof vms) => xs.filter((x) => x.status === 'running').length;

  return (
    <div className="pyxis-grid" data-testid="dc-summary">
      <ErrorAlert error={status.error} />
      <Card isCompact>
        <CardTitle>Health</CardTitle>
        <CardBody>
          <table className="pyxis-kv">
            <tbody>
              <tr>
                <th>Status</th>
                <td>{cluster ? `Cluster: ${cluster.name}` : 'Standalone node (no cluster defined)'}</td>
              </tr>
              <tr>
                <th>Quorum</th>
                <td data-testid="dc-quorum">{quorate ? <Label color="green">quorate</Label> : <Label color="red">no quorum</Label>}</td>
              </tr>
              <tr>
                <th>Nodes online</th>
                <td data-testid="dc-nodes-online">
                  {online.length} / {nodes.length}
                </td>
              </tr>
            </tbody>
          </table>
        </CardBody>
      </Card>
      <Card isCompact>
        <CardTitle>Guests</CardTitle>
        <CardBody>
          <table className="pyxis-kv">
            <tbody>
              <tr>
                <th>Virtual machines</th>
                <td data-testid="dc-vms">
                  {vms.length} ({running(vms)} running)
                </td>
              </tr>
              <tr>
                <th>LXC containers</th>
                <td data-testid="dc-cts">
                  {cts.length} ({running(cts)} running)
                </td>
              </tr>
              <tr>
                <th>Templates</th>
                <td>{resources.filter((r) => (r.type === 'qemu' || r.type === 'lxc') && r.template).length}</td>
              </tr>
            </tbody>
          </table>
        </CardBody>
      </Card>
      <Card isCompact>
        <CardTitle>Resources</CardTitle>
        <CardBody>
          <UsageBar title={`CPU (${maxcpu} cores)`} fraction={maxcpu ? cpu / maxcpu : 0} />
          <UsageBar title="Memory" used={mem} total={maxmem} />
          <UsageBar title="Storage" used={disk} total={maxdisk} />
        </CardBody>
      </Card>
      <Card isCompact>
        <CardTitle>Nodes</CardTitle>
        <CardBody>
          <table className="pyxis-kv">
            <tbody>
              {(status.data?.filter((s) => s.type === 'node') ?? nodes.map((n) => ({ name: n.node ?? '', online: n.status === 'online' ? 1 : 0, ip: undefined }))).map((n) => (
                <tr key={n.name}>
                  <th>{n.name}</th>
                  <td>
                    {n.online ? <Label color="green">online</Label> : <Label color="red">offline</Label>} {n.ip ?? ''}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </CardBody>
      </Card>
    </div>
  );
}
