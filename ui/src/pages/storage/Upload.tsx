// Upload dialog: XHR multipart upload with a progress bar, then the server-side task
// (moving the file into place, checksum) is followed to its end.

import { Button, FileUpload, Form, FormGroup, Modal, ModalVariant, Progress, TextInput } from '@patternfly/react-core';
import { useRef, useState } from 'react';
import { followTask, taskOk, uploadFile, type UploadHandle } from '@/api';
import { ErrorAlert } from '@/components/ErrorAlert';
import { SelectField } from '@/components/forms';
import { useTasks } from '@/hooks/tasks';

interface UploadProps {
  node: string;
  storage: string;
  content: 'iso' | 'vztmpl' | 'import';
  onClose: () => void;
  onDone: () => void;
}

const ALGOS = ['none', 'md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512'];

export function UploadDialog(p: UploadProps) {
  const [file, setFile] = useState<File | null>(null);
  const [filename, setFilename] = useState('');
  const [algo, setAlgo] = useState('none');
  const [checksum, setChecksum] = useState('');
  const [progress, setProgress] = useState<number | null>(null);
  const [phase, setPhase] = useState<'idle' | 'upload' | 'task' | 'done'>('idle');
  const [error, setError] = useState<unknown>(undefined);
  const handle = useRef<UploadHandle | null>(null);
  const tasks = useTasks();

  const start = async () => {
    if (!file) return;
    setError(undefined);
    setPhase('upload');
    setProgress(0);
    try {
      handle.current = uploadFile(
        {
          node: p.node,
          storage: p.storage,
          content: p.content,
          file,
          filename: filename || file.name,
          checksum: algo !== 'none' ? checksum.trim() : undefined,
          checksumAlgorithm: algo !== 'none' ? algo : undefined,
        },
        setProgress,
      );
      const upid = await handle.current.done;
      handle.current = null;
      if (upid) {
        tasks.started(upid);
        setPhase('task');
        const st = await followTask(upid, {}, undefined, 500);
        if (!taskOk(st)) throw new Error(`upload task failed: ${st.exitstatus}`);
      }
      setPhase('done');
      p.onDone();
      p.onClose();
    } catch (err) {
      setError(err);
      setPhase('idle');
      setProgress(null);
    }
  };

  const busy = phase === 'upload' || phase === 'task';
  return (
    <Modal
      variant={ModalVariant.medium}
      title={`Upload to ${p.storage} (${p.content})`}
      isOpen
      onClose={() => {
        handle.current?.abort();
        p.onClose();
      }}
      actions={[
        <Button key="up" variant="primary" onClick={start} isDisabled={!file || busy} isLoading={busy} data-testid="upload-submit">
          Upload
        </Button>,
        <Button
          key="cancel"
          variant="link"
          onClick={() => {
            handle.current?.abort();
            p.onClose();
          }}
        >
          {busy ? 'Abort' : 'Cancel'}
        </Button>,
      ]}
    >
      <Form isHorizontal onSubmit={(e) => e.preventDefault()}>
        <ErrorAlert error={error} />
        <FormGroup label="File" isRequired fieldId="upload-file">
          <FileUpload
            id="upload-file"
            filename={file?.name ?? ''}
            browseButtonText="Select file"
            hideDefaultPreview
            onFileInputChange={(_e, f) => {
              setFile(f);
              setFilename(f.name);
            }}
            onClearClick={() => {
              setFile(null);
              setFilename('');
            }}
            isDisabled={busy}
            data-testid="upload-file"
          />
        </FormGroup>
        <FormGroup label="File name" fieldId="upload-name">
          <TextInput id="upload-name" value={filename} onChange={(_e, v) => setFilename(v)} isDisabled={busy} />
        </FormGroup>
        <SelectField label="Hash algorithm" name="checksum-algorithm" value={algo} onChange={setAlgo} options={ALGOS.map((a) => ({ value: a, label: a }))} error={error} isDisabled={busy} />
        {algo !== 'none' && (
          <FormGroup label="Checksum" fieldId="upload-checksum">
            <TextInput id="upload-checksum" value={checksum} onChange={(_e, v) => setChecksum(v)} isDisabled={busy} />
          </FormGroup>
        )}
        {progress !== null && (
          <Progress
            value={progress * 100}
            title={phase === 'task' ? 'Moving into place' : 'Uploading'}
            data-testid="upload-progress"
            measureLocation="outside"
          />
        )}
      </Form>
    </Modal>
  );
}
