// Cluster: membership from /cluster/status; create (POST /cluster/config) or join
// (POST /cluster/config/join) when standalone; the join information of this cluster
// (GET /cluster/config/join) to copy into another node's join dialog.

import { Alert, Button, Card, CardBody, CardTitle, ClipboardCopy, TextArea } from '@patternfly/react-core';
import { useState } from 'react';
import { api, type ClusterStatusItem } from '@/api';
import { DataTable, type Column } from '@/components/DataTable';
import { ErrorAlert } from '@/components/ErrorAlert';
import { FormModal } from '@/components/FormModal';
import { Field, TextField } from '@/components/forms';
import { useSession } from '@/hooks/session';
import { useApi } from '@/hooks/useApi';

interface JoinInfo {
  nodelist: { name: string; nodeid?: number; pve_addr?: string; ring0_addr?: string; pve_fp?: string; quorum_votes?: number }[];
  preferred_node: string;
  totem: Record<string, unknown>;
  config_digest: string;
}

const NODE_COLUMNS: Column<ClusterStatusItem>[] = [
  { key: 'name', title: 'Node' },
  { key: 'nodeid', title: 'ID', width: 10 },
  { key: 'online', title: 'Online', render: (n) => (n.online ? 'Yes' : 'No'), width: 10 },
  { key: 'ip', title: 'Address' },
];

/** Join information as upstream's UI encodes it: base64 of the JSON. */
function encodeJoin(info: JoinInfo): string {
  const pref = info.nodelist.find((n) => n.name === info.preferred_node) ?? info.nodelist[0];
  const obj = { ipAddress: pref?.pve_addr ?? pref?.ring0_addr, fingerprint: pref?.pve_fp, peerLinks: {}, ring_addr: [pref?.ring0_addr], totem: info.totem };
  return btoa(JSON.stringify(obj));
}

function decodeJoin(text: string): { ipAddress?: string; fingerprint?: string } | null {
  try {
    return JSON.parse(atob(text.trim()));
  } catch {
    return null;
  }
}

export default function Cluster() {
  const { can } = useSession();
  const status = useApi<ClusterStatusItem[]>('/cluster/status', undefined, { interval: 5000 });
  const cluster = status.data?.find((s) => s.type === 'cluster');
  const join = useApi<JoinInfo>(cluster ? '/cluster/config/join' : null);
  const [modal, setModal] = useState<'create' | 'join' | null>(null);
  const [name, setName] = useState('');
  const [joinText, setJoinText] = useState('');
  const [peer, setPeer] = useState({ hostname: '', fingerprint: '', password: '' });
  const mayModify = can('/', 'Sys.Modify');
  const nodes = status.data?.filter((s) => s.type === 'node') ?? [];

  return (
    <div data-testid="dc-cluster">
      <ErrorAlert error={status.error} />
      <Card isCompact>
        <CardTitle>{cluster ? `Cluster ${cluster.name}` : 'Standalone node - no cluster defined'}</CardTitle>
        <CardBody>
          {cluster && (
            <p>
              Quorate: {cluster.quorate ? 'yes' : 'no'} · nodes: {cluster.nodes} · config version {cluster.version}
            </p>
          )}
          {mayModify && !cluster && (
            <div className="pyxis-toolbar">
              <Button size="sm" onClick={() => setModal('create')} data-testid="cluster-create">
                Create Cluster
              </Button>
              <Button size="sm" variant="secondary" onClick={() => setModal('join')} data-testid="cluster-join">
                Join Cluster
              </Button>
            </div>
          )}
          {cluster && join.data && (
            <Field label="Join information (paste it into the Join dialog of the new node)" name="joininfo">
              <ClipboardCopy isReadOnly isCode variant="expansion" data-testid="join-info">
                {encodeJoin(join.data)}
              </ClipboardCopy>
            </Field>
          )}
          <ErrorAlert error={join.error} />
        </CardBody>
      </Card>
      <DataTable label="Cluster nodes" rows={nodes} columns={NODE_COLUMNS} rowKey={(n) => n.name} />
      {modal === 'create' && (
        <FormModal title="Create cluster" isOpen onClose={() => setModal(null)} onDone={status.reload} showTask submit={() => api.post('/cluster/config', { clustername: name })}>
          {(error) => <TextField label="Cluster name" name="clustername" value={name} onChange={setName} error={error} required autoFocus />}
        </FormModal>
      )}
      {modal === 'join' && (
        <FormModal
          title="Join cluster"
          isOpen
          onClose={() => setModal(null)}
          onDone={status.reload}
          showTask
          submit={() => api.post('/cluster/config/join', { hostname: peer.hostname, fingerprint: peer.fingerprint, password: peer.password })}
        >
          {(error) => (
            <>
              <Alert variant="info" isInline isPlain title="Paste the join information of a cluster node, or fill in its address and fingerprint." />
              <Field label="Join information" name="joininfo">
                <TextArea
                  aria-label="Join information"
                  value={joinText}
                  onChange={(_e, v) => {
                    setJoinText(v);
                    const info = decodeJoin(v);
                    if (info) setPeer((p) => ({ ...p, hostname: info.ipAddress ?? p.hostname, fingerprint: info.fingerprint ?? p.fingerprint }));
                  }}
                  rows={3}
                />
              </Field>
              <TextField label="Peer address" name="hostname" value={peer.hostname} onChange={(v) => setPeer({ ...peer, hostname: v })} error={error} required />
              <TextField label="Fingerprint" name="fingerprint" value={peer.fingerprint} onChange={(v) => setPeer({ ...peer, fingerprint: v })} error={error} required />
              <TextField label="Peer root password" name="password" type="password" value={peer.password} onChange={(v) => setPeer({ ...peer, password: v })} error={error} required />
            </>
          )}
        </FormModal>
      )}
    </div>
  );
}
