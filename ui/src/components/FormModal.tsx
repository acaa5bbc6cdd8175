// A modal form: Cancel/Submit buttons, busy state, API error shown as an alert
// (and per-field through the `error` the body receives). submit() may return a UPID,
// which is handed to the task panel (and its log viewer opened when `showTask`).

import { Button, Form, Modal, ModalVariant } from '@patternfly/react-core';
import { useState, type ReactNode } from 'react';
import { isUpid } from '@/api';
import { useTasks } from '@/hooks/tasks';
import { ErrorAlert } from './ErrorAlert';

interface FormModalProps {
  title: string;
  submitLabel?: string;
  isOpen: boolean;
  onClose: () => void;
  /** throws ApiError on failure; resolves (maybe with a UPID) on success */
  submit: () => Promise<unknown>;
  /** called after a successful submit (refresh the list) */
  onDone?: () => void;
  /** the fields; receives the last error so they can highlight themselves */
  children: (error: unknown) => ReactNode;
  showTask?: boolean;
  variant?: ModalVariant;
  submitDisabled?: boolean;
}

export function FormModal(p: FormModalProps) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const tasks = useTasks();
  const onSubmit = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const res = await p.submit();
      if (isUpid(res)) {
        tasks.started(res);
        if (p.showTask) tasks.openTask(res);
      }
      p.onDone?.();
      p.onClose();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal
      variant={p.variant ?? ModalVariant.small}
      title={p.title}
      isOpen={p.isOpen}
      onClose={p.onClose}
      actions={[
        <Button key="ok" variant="primary" onClick={onSubmit} isLoading={busy} isDisabled={busy || p.submitDisabled} data-testid="modal-submit">
          {p.submitLabel ?? 'OK'}
        </Button>,
        <Button key="cancel" variant="link" onClick={p.onClose}>
          Cancel
        </Button>,
      ]}
    >
      <Form
        isHorizontal
        onSubmit={(e) => {
          e.preventDefault();
          void onSubmit();
        }}
      >
        <ErrorAlert error={error} />
        {p.children(error)}
        {/* enter in a field submits */}
        <button type="submit" hidden />
      </Form>
    </Modal>
  );
}

/** A confirmation dialog for destructive or disruptive actions. */
export function ConfirmModal(p: {
  title: string;
  body: ReactNode;
  isOpen: boolean;
  onClose: () => void;
  confirm: () => Promise<unknown>;
  onDone?: () => void;
  confirmLabel?: string;
  danger?: boolean;
}) {
  return (
    <FormModal
      title={p.title}
      isOpen={p.isOpen}
      onClose={p.onClose}
      submit={p.confirm}
      onDone={p.onDone}
      submitLabel={p.confirmLabel ?? 'Yes'}
    >
      {() => <div>{p.body}</div>}
    </FormModal>
  );
}
