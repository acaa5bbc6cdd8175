// Cloud-init: user, password, DNS, SSH keys, upgrade and IP config per NIC; the drive
// is regenerated with PUT .../cloudinit. Pending values are highlighted like elsewhere.

import { Alert, Button, Toolbar, ToolbarContent, ToolbarItem } from '@patternfly/react-core';
import { useState } from 'react';
import { api } from '@/api';
import { ErrorAlert } from '@/components/ErrorAlert';
import { Loading } from '@/layout/ContentPanel';
import { useSession } from '@/hooks/session';
import type { TabProps } from '@/registry/registry';
import { DISK_RE, NET_RE } from '../guest/config';
import { ConfigTable, KeysDialog, useGuestConfig, type KeyField } from '../guest/ConfigTable';
import { TaskModal } from '../guest/TaskModal';
import { aclPath, guestPath } from '../guest/paths';

const FIELDS: Record<string, KeyField[]> = {
  ciuser: [{ key: 'ciuser', label: 'User', kind: 'text', placeholder: 'default of the image' }],
  cipassword: [{ key: 'cipassword', label: 'Password', kind: 'password' }],
  citype: [{ key: 'citype', label: 'Type', kind: 'select', options: [{ value: '', label: 'Default (nocloud)' }, 'nocloud', 'configdrive2', 'opennebula'] }],
  nameserver: [{ key: 'nameserver', label: 'DNS servers', kind: 'text', placeholder: 'use host settings' }],
  searchdomain: [{ key: 'searchdomain', label: 'DNS domain', kind: 'text', placeholder: 'use host settings' }],
  sshkeys: [{ key: 'sshkeys', label: 'SSH public keys', kind: 'area', helper: 'one key per line' }],
  ciupgrade: [{ key: 'ciupgrade', label: 'Upgrade packages', kind: 'bool', boolDefault: true }],
};
const LABELS: Record<string, string> = { ciuser: 'User', cipassword: 'Password', citype: 'Type', nameserver: 'DNS servers', searchdomain: 'DNS domain', sshkeys: 'SSH public keys', ciupgrade: 'Upgrade packages' };

function ipFields(key: string): KeyField[] {
  return [{ key, label: `IP config (${key.replace('ipconfig', 'net')})`, kind: 'text', placeholder: 'ip=dhcp or ip=10.0.0.2/24,gw=10.0.0.1', helper: 'ip=dhcp | ip=CIDR,gw=GW; ip6=auto | dhcp | CIDR,gw6=GW' }];
}

export default function CloudInit({ obj }: TabProps) {
  const st = useGuestConfig(obj);
  const { can } = useSession();
  const [sel, setSel] = useState<string | null>(null);
  const [edit, setEdit] = useState<string | null>(null);
  const [regen, setRegen] = useState(false);
  if (!st.loaded) return st.error ? <ErrorAlert error={st.error} /> : <Loading />;
  const cfg = st.cfg.data ?? {};
  const hasDrive = Object.entries(cfg).some(([k, v]) => DISK_RE.test(k) && /cloudinit/.test(String(v)));
  const nets = Object.keys(cfg).filter((k) => NET_RE.test(k)).sort();
  const keys = [...Object.keys(FIELDS), ...nets.map((n) => n.replace('net', 'ipconfig'))];
  const may = can(aclPath(obj), 'VM.Config.Cloudinit');
  const fields = (k: string) => FIELDS[k] ?? ipFields(k);
  const decode = (k: string) => (v: string | undefined) => {
    if (v === undefined) return k === 'ipconfig0' || k.startsWith('ipconfig') ? '' : 'default';
    if (k === 'cipassword') return '**********';
    if (k === 'sshkeys') return decodeURIComponent(v).split('\n').filter(Boolean).map((l) => l.slice(0, 40) + '…').join('; ');
    return v;
  };
  return (
    <div data-testid="cloudinit-view">
      {!hasDrive && <Alert variant="info" isInline isPlain title="No cloud-init drive: add one (e.g. ide2: local:cloudinit) in Hardware for these settings to reach the guest." />}
      <Toolbar>
        <ToolbarContent>
          <ToolbarItem>
            <Button size="sm" variant="secondary" isDisabled={!may || !sel} onClick={() => setEdit(sel)} data-testid="ci-edit">
              Edit
            </Button>
          </ToolbarItem>
          <ToolbarItem>
            <Button size="sm" variant="secondary" isDisabled={!may || !hasDrive} onClick={() => setRegen(true)} data-testid="ci-regenerate">
              Regenerate image
            </Button>
          </ToolbarItem>
        </ToolbarContent>
      </Toolbar>
      <ConfigTable rows={keys.map((k) => ({ key: k, label: LABELS[k] ?? `IP config (${k.replace('ipconfig', 'net')})`, show: decode(k) }))} state={st} selected={sel} onSelect={setSel} onActivate={(k) => may && setEdit(k)} label="Cloud-init" testPrefix="ci" />
      {edit && (
        edit === 'sshkeys' ? (
          <SshKeysDialog obj={obj} st={st} onClose={() => setEdit(null)} />
        ) : (
          <KeysDialog obj={obj} state={st} title={`Edit: ${LABELS[edit] ?? edit}`} fields={fields(edit)} onClose={() => setEdit(null)} />
        )
      )}
      {regen && (
        <TaskModal title="Regenerate cloud-init image" submitLabel="Regenerate" onClose={() => setRegen(false)} onDone={st.reload}
          submit={() => api.put(guestPath(obj, '/cloudinit'))}>
          {() => <div>Rebuild the cloud-init drive from the current settings (the guest reads it at its next boot).</div>}
        </TaskModal>
      )}
    </div>
  );
}

/** sshkeys is stored URL-encoded: edit the plain text, send it encoded. */
function SshKeysDialog({ obj, st, onClose }: TabProps & { st: ReturnType<typeof useGuestConfig>; onClose: () => void }) {
  const plain = decodeURIComponent(st.eff('sshkeys') ?? '');
  const [v, setV] = useState(plain);
  return (
    <TaskModal title="Edit: SSH public keys" onClose={onClose} onDone={() => { st.reload(); onClose(); }}
      submit={() => api.put(guestPath(obj, '/config'), v.trim() ? { sshkeys: encodeURIComponent(v.trim() + '\n'), digest: st.digest } : { delete: 'sshkeys', digest: st.digest })}>
      {() => (
        <textarea id="ci-sshkeys" data-testid="ci-sshkeys" className="pf-v5-c-form-control pyxis-mono" rows={6} value={v} onChange={(e) => setV(e.target.value)} style={{ width: '100%' }} />
      )}
    </TaskModal>
  );
}

