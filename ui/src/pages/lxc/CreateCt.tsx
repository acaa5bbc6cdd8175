// "Create CT" wizard: General, Template, Disks, CPU, Memory, Network, DNS, Confirm.
// One POST /nodes/{node}/lxc; the vzcreate task's log streams into the dialog.

import { useEffect, useMemo, useState } from 'react';
import { api, seg, type StorageContentItem } from '@/api';
import { useApi } from '@/hooks/useApi';
import { useNavigation } from '@/hooks/navigation';
import { useResources } from '@/hooks/resources';
import { useSession } from '@/hooks/session';
import { buildPropString } from '../guest/config';
import { AreaF, CheckF, SelectF, TextF } from '../guest/fields';
import { ParamTable, Wizard, type WizardStep } from '../guest/Wizard';
import { useStorages } from '../qemu/CreateVm';

interface Form {
  node: string;
  vmid: string;
  hostname: string;
  pool: string;
  password: string;
  confirm: string;
  sshkeys: string;
  unprivileged: boolean;
  tmplStorage: string;
  template: string;
  storage: string;
  size: string;
  cores: string;
  cpulimit: string;
  memory: string;
  swap: string;
  noNet: boolean;
  ifname: string;
  bridge: string;
  tag: string;
  firewall: boolean;
  ipMode: 'dhcp' | 'static' | 'manual';
  ip: string;
  gw: string;
  nameserver: string;
  searchdomain: string;
  start: boolean;
}

export function ctParams(f: Form): Record<string, string | number | undefined> {
  const out: Record<string, string | number | undefined> = {
    vmid: f.vmid,
    hostname: f.hostname || undefined,
    pool: f.pool || undefined,
    password: f.password || undefined,
    'ssh-public-keys': f.sshkeys.trim() || undefined,
    unprivileged: f.unprivileged ? 1 : 0,
    ostemplate: f.template,
    rootfs: `${f.storage}:${f.size}`,
    cores: f.cores || undefined,
    cpulimit: f.cpulimit && f.cpulimit !== '0' ? f.cpulimit : undefined,
    memory: f.memory,
    swap: f.swap,
    nameserver: f.nameserver || undefined,
    searchdomain: f.searchdomain || undefined,
  };
  if (!f.noNet) {
    out.net0 = buildPropString({
      name: f.ifname,
      bridge: f.bridge,
      tag: f.tag || undefined,
      firewall: f.firewall ? 1 : undefined,
      ip: f.ipMode === 'dhcp' ? 'dhcp' : f.ipMode === 'static' ? f.ip : undefined,
      gw: f.ipMode === 'static' ? f.gw || undefined : undefined,
    });
  }
  return out;
}

export default function CreateCt({ onClose, node: initialNode }: { onClose: () => void; node?: string }) {
  const { resources } = useResources();
  const { can } = useSession();
  const { navigate } = useNavigation();
  const nodes = resources.filter((r) => r.type === 'node').map((r) => r.node ?? r.id.slice(5));
  const [f, setF] = useState<Form>({
    node: initialNode ?? nodes[0] ?? '',
    vmid: '',
    hostname: '',
    pool: '',
    password: '',
    confirm: '',
    sshkeys: '',
    unprivileged: true,
    tmplStorage: '',
    template: '',
    storage: '',
    size: '8',
    cores: '1',
    cpulimit: '',
    memory: '512',
    swap: '512',
    noNet: false,
    ifname: 'eth0',
    bridge: 'vmbr0',
    tag: '',
    firewall: true,
    ipMode: 'dhcp',
    ip: '',
    gw: '',
    nameserver: '',
    searchdomain: '',
    start: false,
  });
  const set = <K extends keyof Form>(k: K) => (v: Form[K]) => setF((o) => ({ ...o, [k]: v }));
  const nextid = useApi<string | number>('/cluster/nextid');
  useEffect(() => {
    if (nextid.data !== undefined) setF((o) => (o.vmid === '' ? { ...o, vmid: String(nextid.data) } : o));
  }, [nextid.data]);
  const pools = useApi<{ poolid: string }[]>('/pools');
  const tmplStores = useStorages(f.node, 'vztmpl');
  const rootStores = useStorages(f.node, 'rootdir');
  const tmplStorage = f.tmplStorage || tmplStores.data?.[0]?.storage || '';
  const canList = !!tmplStorage && (can(`/storage/${tmplStorage}`, 'Datastore.Audit') || can(`/storage/${tmplStorage}`, 'Datastore.AllocateSpace'));
  const templates = useApi<StorageContentItem[]>(canList ? `/nodes/${seg(f.node)}/storage/${seg(tmplStorage)}/content` : null, { content: 'vztmpl' });
  const template = f.template || templates.data?.[0]?.volid || '';
  const storage = f.storage || rootStores.data?.[0]?.storage || '';
  const eff: Form = { ...f, tmplStorage, template, storage };
  const params = useMemo(() => ctParams(eff), [JSON.stringify(eff)]); // eslint-disable-line react-hooks/exhaustive-deps
  const pwOk = f.password === f.confirm && (f.password === '' || f.password.length >= 5);

  const steps: WizardStep[] = [
    {
      id: 'general',
      title: 'General',
      params: ['node', 'vmid', 'hostname', 'pool', 'password', 'ssh-public-keys', 'unprivileged'],
      valid: !!f.node && /^\d+$/.test(f.vmid) && pwOk && (f.password !== '' || f.sshkeys.trim() !== ''),
      body: (e) => (
        <>
          <SelectF id="ct-node" param="node" label="Node" value={f.node} onChange={set('node')} options={nodes} error={e} required />
          <TextF id="ct-vmid" param="vmid" label="CT ID" value={f.vmid} onChange={set('vmid')} error={e} type="number" required />
          <TextF id="ct-hostname" param="hostname" label="Hostname" value={f.hostname} onChange={set('hostname')} error={e} />
          <SelectF id="ct-pool" param="pool" label="Resource pool" value={f.pool} onChange={set('pool')} error={e} options={[{ value: '', label: '(none)' }, ...(pools.data ?? []).map((p) => p.poolid)]} />
          <CheckF id="ct-unprivileged" param="unprivileged" label="Unprivileged container" checked={f.unprivileged} onChange={set('unprivileged')} error={e} />
          <TextF id="ct-password" param="password" label="Root password" value={f.password} onChange={set('password')} error={e} type="password" />
          <TextF id="ct-confirm" param="password" showError={false} label="Confirm password" value={f.confirm} onChange={set('confirm')} type="password"
            helper={!pwOk ? (f.password !== f.confirm ? 'Passwords do not match' : 'At least 5 characters') : undefined} />
          <AreaF id="ct-sshkeys" param="ssh-public-keys" label="SSH public keys" value={f.sshkeys} onChange={set('sshkeys')} error={e} helper="a password or at least one key" />
        </>
      ),
    },
    {
      id: 'template',
      title: 'Template',
      params: ['ostemplate'],
      valid: !!template,
      body: (e) => (
        <>
          <SelectF id="ct-tmpl-storage" label="Storage" value={tmplStorage} onChange={(v) => setF((o) => ({ ...o, tmplStorage: v, template: '' }))} options={(tmplStores.data ?? []).map((s) => s.storage)} />
          <SelectF id="ct-template" param="ostemplate" label="Template" value={template} onChange={set('template')} error={e}
            options={(templates.data ?? []).map((t) => ({ value: t.volid, label: t.volid.replace(/^[^:]+:vztmpl\//, '') }))}
            helper={templates.data && templates.data.length === 0 ? 'No templates on this storage (download one in the storage view)' : undefined} />
        </>
      ),
    },
    {
      id: 'disks',
      title: 'Disks',
      params: ['rootfs', 'storage'],
      valid: !!storage && /^\d+(\.\d+)?$/.test(f.size),
      body: (e) => (
        <>
          <SelectF id="ct-storage" param="rootfs" label="Storage" value={storage} onChange={set('storage')} error={e} options={(rootStores.data ?? []).map((s) => s.storage)} />
          <TextF id="ct-disk-size" param="rootfs" showError={false} label="Disk size (GiB)" value={f.size} onChange={set('size')} type="number" helper="0 on a directory storage: a plain directory, no size limit" />
        </>
      ),
    },
    {
      id: 'cpu',
      title: 'CPU',
      params: ['cores', 'cpulimit'],
      body: (e) => (
        <>
          <TextF id="ct-cores" param="cores" label="Cores" value={f.cores} onChange={set('cores')} error={e} type="number" placeholder="unlimited" />
          <TextF id="ct-cpulimit" param="cpulimit" label="CPU limit" value={f.cpulimit} onChange={set('cpulimit')} error={e} type="number" placeholder="unlimited" />
        </>
      ),
    },
    {
      id: 'memory',
      title: 'Memory',
      params: ['memory', 'swap'],
      valid: Number(f.memory) >= 16,
      body: (e) => (
        <>
          <TextF id="ct-memory" param="memory" label="Memory (MiB)" value={f.memory} onChange={set('memory')} error={e} type="number" />
          <TextF id="ct-swap" param="swap" label="Swap (MiB)" value={f.swap} onChange={set('swap')} error={e} type="number" />
        </>
      ),
    },
    {
      id: 'network',
      title: 'Network',
      params: ['net0'],
      valid: f.noNet || f.ipMode !== 'static' || /\/\d+$/.test(f.ip),
      body: (e) => (
        <>
          <CheckF id="ct-nonet" label="No network device" checked={f.noNet} onChange={set('noNet')} />
          {!f.noNet && (
            <>
              <TextF id="ct-ifname" param="net0" label="Name" value={f.ifname} onChange={set('ifname')} error={e} />
              <TextF id="ct-bridge" param="net0" showError={false} label="Bridge" value={f.bridge} onChange={set('bridge')} />
              <TextF id="ct-tag" param="net0" showError={false} label="VLAN tag" value={f.tag} onChange={set('tag')} type="number" placeholder="no VLAN" />
              <CheckF id="ct-firewall" label="Firewall" checked={f.firewall} onChange={set('firewall')} />
              <SelectF id="ct-ipmode" param="net0" showError={false} label="IPv4" value={f.ipMode} onChange={(v) => set('ipMode')(v as Form['ipMode'])}
                options={[{ value: 'dhcp', label: 'DHCP' }, { value: 'static', label: 'Static' }, { value: 'manual', label: 'Manual (none)' }]} />
              {f.ipMode === 'static' && (
                <>
                  <TextF id="ct-ip" param="net0" showError={false} label="IPv4/CIDR" value={f.ip} onChange={set('ip')} placeholder="10.0.0.2/24" />
                  <TextF id="ct-gw" param="net0" showError={false} label="Gateway" value={f.gw} onChange={set('gw')} />
                </>
              )}
            </>
          )}
        </>
      ),
    },
    {
      id: 'dns',
      title: 'DNS',
      params: ['nameserver', 'searchdomain'],
      body: (e) => (
        <>
          <TextF id="ct-searchdomain" param="searchdomain" label="DNS domain" value={f.searchdomain} onChange={set('searchdomain')} error={e} placeholder="use host settings" />
          <TextF id="ct-nameserver" param="nameserver" label="DNS servers" value={f.nameserver} onChange={set('nameserver')} error={e} placeholder="use host settings" />
        </>
      ),
    },
    {
      id: 'confirm',
      title: 'Confirm',
      body: () => (
        <>
          <ParamTable params={params} />
          <CheckF id="ct-start" label="Start after created" checked={f.start} onChange={set('start')} />
        </>
      ),
    },
  ];

  return (
    <Wizard
      title="Create: LXC Container"
      testId="create-ct"
      steps={steps}
      onClose={onClose}
      submit={() => api.post<string>(`/nodes/${seg(f.node)}/lxc`, { ...params, start: f.start ? 1 : undefined })}
      onDone={() => {
        onClose();
        navigate(`lxc/${f.vmid}`, 'summary');
      }}
    />
  );
}
