// A form dialog whose submit starts a task: the task log streams into the dialog; on
// success it offers Close, on failure the error stays with the form to fix and retry.

import { Button, Form, Modal, ModalVariant } from '@patternfly/react-core';
import { useState, type ReactNode } from 'react';
import { isUpid } from '@/api';
import { ErrorAlert } from '@/components/ErrorAlert';
import { TaskOutput, taskFailure, useFollow } from './TaskOutput';

export function TaskModal(p: {
  title: string;
  submitLabel?: string;
  onClose: () => void;
  submit: () => Promise<unknown>;
  onDone?: () => void;
  children?: (error: unknown) => ReactNode;
  submitDisabled?: boolean;
  testId?: string;
}) {
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const f = useFollow();
  const run = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const res = await p.submit();
      if (isUpid(res)) {
        const st = await f.follow(res);
        const fail = taskFailure(st);
        if (fail) throw new Error(fail);
      }
      setDone(true);
      p.onDone?.();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal
      variant={ModalVariant.medium}
      title={p.title}
      isOpen
      onClose={p.onClose}
      data-testid={p.testId}
      actions={
        done
          ? [
              <Button key="close" variant="primary" onClick={p.onClose} data-testid="task-close">
                Close
              </Button>,
            ]
          : [
              <Button key="ok" variant="primary" onClick={run} isLoading={busy} isDisabled={busy || p.submitDisabled} data-testid="modal-submit">
                {p.submitLabel ?? 'OK'}
              </Button>,
              <Button key="cancel" variant="link" onClick={p.onClose}>
                Cancel
              </Button>,
            ]
      }
    >
      <Form
        isHorizontal
        onSubmit={(e) => {
          e.preventDefault();
          if (!busy && !done) void run();
        }}
      >
        <ErrorAlert error={error} />
        {p.children?.(error)}
      </Form>
      <TaskOutput f={f} />
    </Modal>
  );
}
