// Clone a guest: target ID (from /cluster/nextid), name, full or linked (linked only
// from a template), target storage for a full clone. The clone task is followed in
// the dialog; the new guest is selected when it ends well.

import { Button, Modal, ModalVariant } from '@patternfly/react-core';
import { useEffect, useState } from 'react';
import { api, type Params } from '@/api';
import { ErrorAlert } from '@/components/ErrorAlert';
import { useApi } from '@/hooks/useApi';
import { useNavigation } from '@/hooks/navigation';
import type { TabProps } from '@/registry/registry';
import { useStorages } from '../qemu/CreateVm';
import { CheckF, SelectF, TextF } from './fields';
import { guestPath } from './paths';
import { TaskOutput, taskFailure, useFollow } from './TaskOutput';

export default function CloneDialog({ obj, onClose }: TabProps & { onClose: () => void }) {
  const qemu = obj.kind === 'qemu';
  const template = !!obj.resource?.template;
  const nextid = useApi<string | number>('/cluster/nextid');
  const [newid, setNewid] = useState('');
  const [name, setName] = useState('');
  const [full, setFull] = useState(!template);
  const [storage, setStorage] = useState('');
  const [format, setFormat] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const stores = useStorages(obj.node ?? '', qemu ? 'images' : 'rootdir');
  const f = useFollow();
  const { navigate } = useNavigation();
  useEffect(() => {
    if (nextid.data !== undefined) setNewid((v) => v || String(nextid.data));
  }, [nextid.data]);

  const submit = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const p: Params = { newid, full: full ? 1 : 0, storage: full && storage ? storage : undefined };
      if (qemu) {
        p.name = name || undefined;
        p.format = full && format ? format : undefined;
      } else p.hostname = name || undefined;
      const upid = await api.post<string>(guestPath(obj, '/clone'), p);
      const st = await f.follow(upid);
      const fail = taskFailure(st);
      if (fail) setError(new Error(`clone failed: ${fail}`));
      else {
        onClose();
        navigate(`${obj.kind}/${newid}`);
      }
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal
      variant={ModalVariant.medium}
      title={`Clone ${qemu ? 'VM' : 'CT'} ${obj.vmid}`}
      isOpen
      onClose={onClose}
      data-testid="clone-dialog"
      actions={[
        <Button key="ok" variant="primary" onClick={submit} isLoading={busy} isDisabled={busy || !/^\d+$/.test(newid)} data-testid="modal-submit">
          Clone
        </Button>,
        <Button key="cancel" variant="link" onClick={onClose}>
          Cancel
        </Button>,
      ]}
    >
      <form className="pf-v5-c-form pf-m-horizontal" onSubmit={(e) => e.preventDefault()}>
        <ErrorAlert error={error} />
        <TextF id="clone-newid" param="newid" label="Target ID" value={newid} onChange={setNewid} error={error} type="number" />
        <TextF id="clone-name" param={qemu ? 'name' : 'hostname'} label={qemu ? 'Name' : 'Hostname'} value={name} onChange={setName} error={error} />
        <CheckF id="clone-full" param="full" label={template ? 'Full clone (otherwise linked)' : 'Full clone'} checked={full} onChange={setFull} isDisabled={!template} error={error} />
        {full && (
          <SelectF id="clone-storage" param="storage" label="Target storage" value={storage} onChange={setStorage} error={error}
            options={[{ value: '', label: 'Same as source' }, ...(stores.data ?? []).map((s) => s.storage)]} />
        )}
        {full && qemu && (
          <SelectF id="clone-format" param="format" label="Format" value={format} onChange={setFormat} error={error}
            options={[{ value: '', label: 'Same as source' }, 'qcow2', 'raw', 'vmdk']} />
        )}
      </form>
      <TaskOutput f={f} title="Clone" />
    </Modal>
  );
}
