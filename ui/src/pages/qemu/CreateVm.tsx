// "Create VM" wizard: General, OS, System, Disks, CPU, Memory, Network, Confirm.
// Everything ends up in one POST /nodes/{node}/qemu; the create task's log streams into
// the dialog; the offending field of a refused parameter turns red on its step.

import { useEffect, useMemo, useState } from 'react';
import { api, seg, type StorageContentItem } from '@/api';
import { useApi } from '@/hooks/useApi';
import { useNavigation } from '@/hooks/navigation';
import { useResources } from '@/hooks/resources';
import { useSession } from '@/hooks/session';
import { buildPropString } from '@/pages/guest/config';
import { CheckF, SelectF, TextF } from '@/pages/guest/fields';
import { ParamTable, Wizard, type WizardStep } from '@/pages/guest/Wizard';

export interface NodeStorage {
  storage: string;
  type: string;
  content: string;
  avail?: number;
  total?: number;
  active?: number;
  enabled?: number;
}

export const OSTYPES = [
  { value: 'l26', label: 'Linux 6.x - 2.6 Kernel' },
  { value: 'l24', label: 'Linux 2.4 Kernel' },
  { value: 'win11', label: 'Windows 11/2022/2025' },
  { value: 'win10', label: 'Windows 10/2016/2019' },
  { value: 'win8', label: 'Windows 8/2012/2012r2' },
  { value: 'solaris', label: 'Solaris Kernel' },
  { value: 'other', label: 'Other' },
];
export const CPU_TYPES = ['x86-64-v2-AES', 'x86-64-v2', 'x86-64-v3', 'kvm64', 'qemu64', 'max', 'host'];
export const NIC_MODELS = [
  { value: 'virtio', label: 'VirtIO (paravirtualized)' },
  { value: 'e1000', label: 'Intel E1000' },
  { value: 'e1000e', label: 'Intel E1000E' },
  { value: 'rtl8139', label: 'Realtek RTL8139' },
  { value: 'vmxnet3', label: 'VMware vmxnet3' },
];
export const SCSIHW = ['virtio-scsi-single', 'virtio-scsi-pci', 'lsi', 'lsi53c810', 'megasas', 'pvscsi'];
export const BUSES = ['scsi', 'virtio', 'sata', 'ide'];
export const CACHES = [
  { value: '', label: 'Default (no cache)' },
  { value: 'directsync', label: 'Direct sync' },
  { value: 'writethrough', label: 'Write through' },
  { value: 'writeback', label: 'Write back' },
  { value: 'unsafe', label: 'Write back (unsafe)' },
  { value: 'none', label: 'No cache' },
];
const FILE_STORAGES = ['dir', 'nfs', 'cifs', 'glusterfs', 'btrfs', 'cephfs'];

/** Storages of `node` offering `content` (enabled ones). */
export function useStorages(node: string, content: string) {
  return useApi<NodeStorage[]>(node ? `/nodes/${seg(node)}/storage` : null, { content, enabled: 1 });
}

export function formatsFor(type: string | undefined): string[] {
  return type && FILE_STORAGES.includes(type) ? ['qcow2', 'raw', 'vmdk'] : ['raw'];
}

interface Form {
  node: string;
  vmid: string;
  name: string;
  pool: string;
  media: 'iso' | 'none';
  isoStorage: string;
  iso: string;
  ostype: string;
  machine: string;
  bios: string;
  scsihw: string;
  agent: boolean;
  kvm: boolean;
  serial: boolean;
  vga: string;
  noDisk: boolean;
  bus: string;
  index: string;
  storage: string;
  size: string;
  format: string;
  cache: string;
  discard: boolean;
  sockets: string;
  cores: string;
  cpu: string;
  memory: string;
  noNet: boolean;
  bridge: string;
  model: string;
  tag: string;
  firewall: boolean;
  start: boolean;
}

export function vmParams(f: Form): Record<string, string | number | undefined> {
  const disk = `${f.bus}${f.index}`;
  const out: Record<string, string | number | undefined> = {
    vmid: f.vmid,
    name: f.name || undefined,
    pool: f.pool || undefined,
    ostype: f.ostype,
    machine: f.machine === 'pc' ? undefined : f.machine,
    bios: f.bios === 'seabios' ? undefined : f.bios,
    scsihw: f.scsihw,
    agent: f.agent ? 1 : undefined,
    kvm: f.kvm ? undefined : 0,
    serial0: f.serial ? 'socket' : undefined,
    vga: f.vga === 'default' ? undefined : f.vga,
    ide2: f.media === 'iso' && f.iso ? `${f.iso},media=cdrom` : 'none,media=cdrom',
  };
  if (!f.noDisk) {
    out[disk] = buildPropString({
      file: `${f.storage}:${f.size}`,
      format: f.format || undefined,
      cache: f.cache || undefined,
      discard: f.discard ? 'on' : undefined,
      iothread: f.bus === 'scsi' && f.scsihw === 'virtio-scsi-single' ? 1 : undefined,
    }, 'file');
  }
  out.sockets = f.sockets;
  out.cores = f.cores;
  out.cpu = f.cpu;
  out.memory = f.memory;
  if (!f.noNet) {
    out.net0 = buildPropString({ model: f.model, bridge: f.bridge, tag: f.tag || undefined, firewall: f.firewall ? 1 : undefined }, 'model');
  }
  const order = [f.noDisk ? null : disk, 'ide2', f.noNet ? null : 'net0'].filter(Boolean).join(';');
  out.boot = `order=${order}`;
  return out;
}

export default function CreateVm({ onClose, node: initialNode }: { onClose: () => void; node?: string }) {
  const { resources } = useResources();
  const { can } = useSession();
  const { navigate } = useNavigation();
  const nodes = resources.filter((r) => r.type === 'node').map((r) => r.node ?? r.id.slice(5));
  const [f, setF] = useState<Form>({
    node: initialNode ?? nodes[0] ?? '',
    vmid: '',
    name: '',
    pool: '',
    media: 'iso',
    isoStorage: '',
    iso: '',
    ostype: 'l26',
    machine: 'pc',
    bios: 'seabios',
    scsihw: 'virtio-scsi-single',
    agent: false,
    kvm: true,
    serial: false,
    vga: 'default',
    noDisk: false,
    bus: 'scsi',
    index: '0',
    storage: '',
    size: '32',
    format: 'qcow2',
    cache: '',
    discard: false,
    sockets: '1',
    cores: '1',
    cpu: 'x86-64-v2-AES',
    memory: '2048',
    noNet: false,
    bridge: 'vmbr0',
    model: 'virtio',
    tag: '',
    firewall: true,
    start: false,
  });
  const set = <K extends keyof Form>(k: K) => (v: Form[K]) => setF((o) => ({ ...o, [k]: v }));

  const nextid = useApi<string | number>('/cluster/nextid');
  useEffect(() => {
    if (nextid.data !== undefined) setF((o) => (o.vmid === '' ? { ...o, vmid: String(nextid.data) } : o));
  }, [nextid.data]);
  const pools = useApi<{ poolid: string }[]>('/pools');
  const isoStores = useStorages(f.node, 'iso');
  const diskStores = useStorages(f.node, 'images');
  const isoStorage = f.isoStorage || isoStores.data?.[0]?.storage || '';
  const canIso = !!isoStorage && (can(`/storage/${isoStorage}`, 'Datastore.Audit') || can(`/storage/${isoStorage}`, 'Datastore.AllocateSpace'));
  const isos = useApi<StorageContentItem[]>(canIso ? `/nodes/${seg(f.node)}/storage/${seg(isoStorage)}/content` : null, { content: 'iso' });
  const storage = f.storage || diskStores.data?.[0]?.storage || '';
  const storageType = diskStores.data?.find((s) => s.storage === storage)?.type;
  const formats = formatsFor(storageType);
  const format = formats.includes(f.format) ? f.format : formats[0];
  const iso = f.iso || isos.data?.[0]?.volid || '';
  const eff: Form = { ...f, isoStorage, storage, format, iso };
  const params = useMemo(() => vmParams(eff), [JSON.stringify(eff)]); // eslint-disable-line react-hooks/exhaustive-deps

  const steps: WizardStep[] = [
    {
      id: 'general',
      title: 'General',
      params: ['node', 'vmid', 'name', 'pool'],
      valid: !!f.node && /^\d+$/.test(f.vmid),
      body: (e) => (
        <>
          <SelectF id="vm-node" param="node" label="Node" value={f.node} onChange={set('node')} options={nodes} error={e} required />
          <TextF id="vm-vmid" param="vmid" label="VM ID" value={f.vmid} onChange={set('vmid')} error={e} required type="number" />
          <TextF id="vm-name" param="name" label="Name" value={f.name} onChange={set('name')} error={e} />
          <SelectF id="vm-pool" param="pool" label="Resource pool" value={f.pool} onChange={set('pool')} error={e} options={[{ value: '', label: '(none)' }, ...(pools.data ?? []).map((p) => p.poolid)]} />
        </>
      ),
    },
    {
      id: 'os',
      title: 'OS',
      params: ['ide2', 'ostype'],
      body: (e) => (
        <>
          <SelectF id="vm-media" param="ide2" label="Installation media" value={f.media} onChange={(v) => set('media')(v as Form['media'])} error={e}
            options={[{ value: 'iso', label: 'Use CD/DVD disc image file (ISO)' }, { value: 'none', label: 'Do not use any media' }]} />
          {f.media === 'iso' && (
            <>
              <SelectF id="vm-iso-storage" label="Storage" value={isoStorage} onChange={(v) => setF((o) => ({ ...o, isoStorage: v, iso: '' }))}
                options={(isoStores.data ?? []).map((s) => s.storage)} />
              <SelectF id="vm-iso" param="ide2" label="ISO image" value={iso} onChange={set('iso')} error={e}
                options={(isos.data ?? []).map((i) => ({ value: i.volid, label: i.volid.replace(/^[^:]+:iso\//, '') }))}
                helper={isos.data && isos.data.length === 0 ? 'No ISO images on this storage (upload one in the storage view)' : undefined} />
            </>
          )}
          <SelectF id="vm-ostype" param="ostype" label="Guest OS" value={f.ostype} onChange={set('ostype')} options={OSTYPES} error={e} />
        </>
      ),
    },
    {
      id: 'system',
      title: 'System',
      params: ['machine', 'bios', 'scsihw', 'agent', 'kvm', 'serial0', 'vga'],
      body: (e) => (
        <>
          <SelectF id="vm-machine" param="machine" label="Machine" value={f.machine} onChange={set('machine')} error={e} options={[{ value: 'pc', label: 'Default (i440fx)' }, { value: 'q35', label: 'q35' }]} />
          <SelectF id="vm-bios" param="bios" label="BIOS" value={f.bios} onChange={set('bios')} error={e} options={[{ value: 'seabios', label: 'Default (SeaBIOS)' }, { value: 'ovmf', label: 'OVMF (UEFI)' }]} />
          <SelectF id="vm-scsihw" param="scsihw" label="SCSI controller" value={f.scsihw} onChange={set('scsihw')} error={e} options={SCSIHW} />
          <SelectF id="vm-vga" param="vga" label="Display" value={f.vga} onChange={set('vga')} error={e} options={['default', 'std', 'virtio', 'qxl', 'vmware', 'serial0', 'none']} />
          <CheckF id="vm-agent" param="agent" label="QEMU guest agent" checked={f.agent} onChange={set('agent')} error={e} />
          <CheckF id="vm-serial" param="serial0" label="Serial console (serial0: socket)" checked={f.serial} onChange={set('serial')} error={e} />
          <CheckF id="vm-kvm" param="kvm" label="KVM hardware virtualization" checked={f.kvm} onChange={set('kvm')} error={e} />
        </>
      ),
    },
    {
      id: 'disks',
      title: 'Disks',
      params: [`${f.bus}${f.index}`, 'storage'],
      valid: f.noDisk || (!!storage && Number(f.size) > 0),
      body: (e) => {
        const p = `${f.bus}${f.index}`;
        return (
          <>
            <CheckF id="vm-nodisk" label="No hard disk" checked={f.noDisk} onChange={set('noDisk')} />
            {!f.noDisk && (
              <>
                <SelectF id="vm-bus" param={p} showError={false} label="Bus" value={f.bus} onChange={set('bus')} options={BUSES} />
                <TextF id="vm-disk-index" param={p} showError={false} label="Device" value={f.index} onChange={set('index')} type="number" />
                <SelectF id="vm-storage" param={p} label="Storage" value={storage} onChange={set('storage')} error={e} options={(diskStores.data ?? []).map((s) => s.storage)} />
                <TextF id="vm-disk-size" param={p} showError={false} label="Disk size (GiB)" value={f.size} onChange={set('size')} type="number" />
                <SelectF id="vm-disk-format" param={p} showError={false} label="Format" value={format} onChange={set('format')} options={formats} />
                <SelectF id="vm-disk-cache" param={p} showError={false} label="Cache" value={f.cache} onChange={set('cache')} options={CACHES} />
                <CheckF id="vm-disk-discard" label="Discard" checked={f.discard} onChange={set('discard')} />
              </>
            )}
          </>
        );
      },
    },
    {
      id: 'cpu',
      title: 'CPU',
      params: ['sockets', 'cores', 'cpu'],
      valid: Number(f.sockets) >= 1 && Number(f.cores) >= 1,
      body: (e) => (
        <>
          <TextF id="vm-sockets" param="sockets" label="Sockets" value={f.sockets} onChange={set('sockets')} error={e} type="number" />
          <TextF id="vm-cores" param="cores" label="Cores" value={f.cores} onChange={set('cores')} error={e} type="number" />
          <SelectF id="vm-cpu" param="cpu" label="Type" value={f.cpu} onChange={set('cpu')} error={e} options={CPU_TYPES} />
        </>
      ),
    },
    {
      id: 'memory',
      title: 'Memory',
      params: ['memory'],
      valid: Number(f.memory) >= 16,
      body: (e) => <TextF id="vm-memory" param="memory" label="Memory (MiB)" value={f.memory} onChange={set('memory')} error={e} type="number" />,
    },
    {
      id: 'network',
      title: 'Network',
      params: ['net0'],
      body: (e) => (
        <>
          <CheckF id="vm-nonet" label="No network device" checked={f.noNet} onChange={set('noNet')} />
          {!f.noNet && (
            <>
              <TextF id="vm-bridge" param="net0" label="Bridge" value={f.bridge} onChange={set('bridge')} error={e} />
              <SelectF id="vm-model" param="net0" showError={false} label="Model" value={f.model} onChange={set('model')} options={NIC_MODELS} />
              <TextF id="vm-tag" param="net0" showError={false} label="VLAN tag" value={f.tag} onChange={set('tag')} type="number" placeholder="no VLAN" />
              <CheckF id="vm-firewall" label="Firewall" checked={f.firewall} onChange={set('firewall')} />
            </>
          )}
        </>
      ),
    },
    {
      id: 'confirm',
      title: 'Confirm',
      body: () => (
        <>
          <ParamTable params={params} />
          <CheckF id="vm-start" label="Start after created" checked={f.start} onChange={set('start')} />
        </>
      ),
    },
  ];

  return (
    <Wizard
      title="Create: Virtual Machine"
      testId="create-vm"
      steps={steps}
      onClose={onClose}
      submit={() => api.post<string>(`/nodes/${seg(f.node)}/qemu`, { ...params, start: f.start ? 1 : undefined })}
      onDone={() => {
        onClose();
        navigate(`qemu/${f.vmid}`, 'summary');
      }}
    />
  );
}

