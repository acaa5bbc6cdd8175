// Wire types of the API objects the UI reads (subset of the upstream schema).

export type ResourceType = 'node' | 'qemu' | 'lxc' | 'storage' | 'pool' | 'sdn';

export interface Resource {
  id: string; // "node/pve1", "qemu/100", "storage/pve1/local", "pool/prod"
  type: ResourceType;
  node?: string;
  status?: string;
  name?: string;
  vmid?: number;
  storage?: string;
  pool?: string;
  tags?: string;
  template?: number;
  hastate?: string;
  cpu?: number;
  maxcpu?: number;
  mem?: number;
  maxmem?: number;
  disk?: number;
  maxdisk?: number;
  uptime?: number;
  content?: string;
  plugintype?: string;
  shared?: number;
  lock?: string;
}

export interface ClusterStatusItem {
  type: 'cluster' | 'node';
  id: string;
  name: string;
  online?: number;
  local?: number;
  nodeid?: number;
  ip?: string;
  quorate?: number;
  nodes?: number;
  version?: number;
}

export interface TaskItem {
  upid: string;
  node: string;
  pid?: number;
  starttime: number;
  endtime?: number;
  type: string;
  id?: string;
  user: string;
  status?: string;
}

export interface TaskStatus {
  status: 'running' | 'stopped';
  exitstatus?: string;
  type: string;
  id?: string;
  user: string;
  node: string;
  upid: string;
  starttime: number;
}

export interface TaskLogLine {
  n: number;
  t: string;
}

export type Cap = Record<string, Record<string, number>>;

export interface TicketResponse {
  username: string;
  ticket?: string;
  CSRFPreventionToken?: string;
  clustername?: string;
  cap?: Cap;
  NeedTFA?: number;
}

export interface Domain {
  realm: string;
  type: string;
  comment?: string;
  default?: number;
  tfa?: string;
}

export interface StorageContentItem {
  volid: string;
  format: string;
  size: number;
  content: string;
  ctime?: number;
  vmid?: number;
  notes?: string;
  used?: number;
}

export interface StorageConfig {
  storage: string;
  type: string;
  content?: string;
  path?: string;
  nodes?: string;
  shared?: number;
  disable?: number;
  digest?: string;
  [key: string]: unknown;
}

export interface RrdPoint {
  time: number;
  [metric: string]: number | undefined;
}
