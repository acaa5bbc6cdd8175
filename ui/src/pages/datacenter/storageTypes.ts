// Type-specific storage forms as data: which fields each storage type takes.
// To support a new type, add an entry (fields map 1:1 to /storage parameters).

export interface StorageField {
  name: string;
  label: string;
  kind: 'text' | 'password' | 'bool' | 'content' | 'select' | 'nodes';
  options?: string[];
  required?: boolean;
  /** only when creating (fixed afterwards) */
  createOnly?: boolean;
  helper?: string;
}

export interface StorageType {
  type: string;
  label: string;
  contents: string[];
  fields: StorageField[];
}

const COMMON_TAIL: StorageField[] = [
  { name: 'nodes', label: 'Nodes', kind: 'nodes', helper: 'empty = all nodes' },
  { name: 'disable', label: 'Disabled', kind: 'bool' },
];

export const STORAGE_TYPES: StorageType[] = [
  {
    type: 'dir',
    label: 'Directory',
    contents: ['images', 'rootdir', 'iso', 'vztmpl', 'backup', 'snippets', 'import'],
    fields: [
      { name: 'path', label: 'Directory', kind: 'text', required: true, createOnly: true },
      { name: 'content', label: 'Content', kind: 'content' },
      { name: 'shared', label: 'Shared', kind: 'bool' },
      { name: 'preallocation', label: 'Preallocation', kind: 'select', options: ['', 'off', 'metadata', 'falloc', 'full'] },
      { name: 'is_mountpoint', label: 'Is mountpoint', kind: 'text', helper: 'yes, no or the mount path' },
      ...COMMON_TAIL,
    ],
  },
  {
    type: 'btrfs',
    label: 'BTRFS',
    contents: ['images', 'rootdir', 'iso', 'vztmpl', 'backup', 'snippets', 'import'],
    fields: [
      { name: 'path', label: 'Path', kind: 'text', required: true, createOnly: true },
      { name: 'content', label: 'Content', kind: 'content' },
      { name: 'is_mountpoint', label: 'Is mountpoint', kind: 'text' },
      ...COMMON_TAIL,
    ],
  },
];

export function storageType(type: string): StorageType | undefined {
  return STORAGE_TYPES.find((t) => t.type === type);
}
