// Content browser of one storage for one content type: list, upload (iso/vztmpl/import),
// remove. Volumes come from /nodes/{node}/storage/{storage}/content?content=<type>.

import { Button } from '@patternfly/react-core';
import { useState } from 'react';
import { api, seg, type StorageContentItem } from '@/api';
import { DataTable, type Column } from '@/components/DataTable';
import { ErrorAlert } from '@/components/ErrorAlert';
import { ConfirmModal } from '@/components/FormModal';
import { formatBytes, formatTime } from '@/components/format';
import { useSession } from '@/hooks/session';
import { useApi } from '@/hooks/useApi';
import type { TabProps } from '@/registry/registry';
import { TemplatesDialog } from './Templates';
import { UploadDialog } from './Upload';

const UPLOADABLE = ['iso', 'vztmpl', 'import'] as const;
type Uploadable = (typeof UPLOADABLE)[number];

const COLUMNS: Column<StorageContentItem>[] = [
  { key: 'volid', title: 'Name', render: (v) => v.volid.replace(/^[^:]+:/, '') },
  { key: 'ctime', title: 'Date', render: (v) => formatTime(v.ctime), width: 15 },
  { key: 'format', title: 'Format', width: 10 },
  { key: 'vmid', title: 'VMID', render: (v) => (v.vmid ? String(v.vmid) : ''), width: 10 },
  { key: 'size', title: 'Size', render: (v) => formatBytes(v.size), width: 10 },
];

export default function StorageContent({ obj, content }: TabProps & { content: string }) {
  const base = `/nodes/${seg(obj.node ?? '')}/storage/${seg(obj.storage ?? '')}`;
  const { data, error, reload } = useApi<StorageContentItem[]>(`${base}/content`, { content }, { interval: 10000 });
  const { can } = useSession();
  const [selected, setSelected] = useState<string | null>(null);
  const [upload, setUpload] = useState(false);
  const [templates, setTemplates] = useState(false);
  const [remove, setRemove] = useState(false);
  const sel = (data ?? []).find((v) => v.volid === selected);
  const aclPath = `/storage/${obj.storage}`;
  const mayUpload = (UPLOADABLE as readonly string[]).includes(content) && can(aclPath, 'Datastore.AllocateTemplate');
  const mayRemove = can(aclPath, 'Datastore.Allocate') || (content !== 'images' && can(aclPath, 'Datastore.AllocateTemplate'));

  return (
    <div data-testid={`content-${content}`}>
      <div className="pyxis-toolbar">
        {mayUpload && (
          <Button size="sm" onClick={() => setUpload(true)} data-testid="content-upload">
            Upload
          </Button>
        )}
        {mayUpload && content === 'vztmpl' && (
          <Button size="sm" variant="secondary" onClick={() => setTemplates(true)} data-testid="content-templates">
            Templates
          </Button>
        )}
        {mayRemove && (
          <Button size="sm" variant="danger" isDisabled={!sel} onClick={() => setRemove(true)} data-testid="content-remove">
            Remove
          </Button>
        )}
        <Button size="sm" variant="secondary" onClick={reload}>
          Refresh
        </Button>
      </div>
      <ErrorAlert error={error} />
      <DataTable
        label="Storage content"
        rows={data ?? []}
        columns={COLUMNS}
        rowKey={(v) => v.volid}
        selected={selected}
        onSelect={(v) => setSelected(v.volid)}
        emptyText="No content"
      />
      {upload && (
        <UploadDialog
          node={obj.node ?? ''}
          storage={obj.storage ?? ''}
          content={content as Uploadable}
          onClose={() => setUpload(false)}
          onDone={reload}
        />
      )}
      {templates && <TemplatesDialog node={obj.node ?? ''} storage={obj.storage ?? ''} onClose={() => setTemplates(false)} onDone={() => window.setTimeout(reload, 1000)} />}
      {remove && sel && (
        <ConfirmModal
          title="Remove volume"
          body={`Remove ${sel.volid}? This cannot be undone.`}
          isOpen
          onClose={() => setRemove(false)}
          confirm={() => api.del(`${base}/content/${seg(sel.volid)}`)}
          onDone={() => {
            setSelected(null);
            window.setTimeout(reload, 500);
          }}
          confirmLabel="Remove"
        />
      )}
    </div>
  );
}
