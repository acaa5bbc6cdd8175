// A step-by-step create dialog: step list on the left, the current step, Back/Next and
// Finish on the last step. Finish runs `submit` (which returns a UPID); its task log
// streams into the dialog. An API error jumps to the first step holding an offending
// parameter (steps declare their `params`), where the field shows the server's message.

import { Alert, Button, Form, Modal, ModalVariant } from '@patternfly/react-core';
import { useState, type ReactNode } from 'react';
import { ApiError, errorMessage, isUpid } from '@/api';
import { TaskOutput, taskFailure, useFollow } from './TaskOutput';

export interface WizardStep {
  id: string;
  title: string;
  /** API parameters whose errors belong to this step */
  params?: string[];
  /** false: Next stays disabled */
  valid?: boolean;
  body: (error: unknown) => ReactNode;
}

interface Props {
  title: string;
  steps: WizardStep[];
  onClose: () => void;
  submit: () => Promise<unknown>;
  /** after the task ended well */
  onDone: () => void;
  testId: string;
}

export function Wizard(p: Props) {
  const [at, setAt] = useState(0);
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const [taskError, setTaskError] = useState<string | null>(null);
  const f = useFollow();
  const step = p.steps[at];
  const last = at === p.steps.length - 1;
  const firstInvalid = p.steps.findIndex((s) => s.valid === false);

  const finish = async () => {
    setBusy(true);
    setError(undefined);
    setTaskError(null);
    try {
      const res = await p.submit();
      if (isUpid(res)) {
        const st = await f.follow(res);
        const fail = taskFailure(st);
        if (fail) {
          setTaskError(fail);
          return;
        }
      }
      p.onDone();
    } catch (err) {
      setError(err);
      if (err instanceof ApiError) {
        const keys = Object.keys(err.errors);
        const i = p.steps.findIndex((s) => s.params?.some((x) => keys.includes(x)));
        if (i >= 0) setAt(i);
      }
    } finally {
      setBusy(false);
    }
  };

  const errorKeys = error instanceof ApiError ? Object.keys(error.errors) : [];
  return (
    <Modal
      variant={ModalVariant.large}
      title={p.title}
      isOpen
      onClose={p.onClose}
      data-testid={p.testId}
      actions={[
        <Button key="back" variant="secondary" isDisabled={at === 0 || busy} onClick={() => setAt(at - 1)} data-testid="wizard-back">
          Back
        </Button>,
        last ? (
          <Button
            key="finish"
            variant="primary"
            onClick={finish}
            isLoading={busy}
            isDisabled={busy || firstInvalid >= 0}
            data-testid="wizard-finish"
          >
            Finish
          </Button>
        ) : (
          <Button key="next" variant="primary" isDisabled={step.valid === false} onClick={() => setAt(at + 1)} data-testid="wizard-next">
            Next
          </Button>
        ),
        <Button key="cancel" variant="link" onClick={p.onClose}>
          Cancel
        </Button>,
      ]}
    >
      <div style={{ display: 'grid', gridTemplateColumns: '160px 1fr', gap: 16, minHeight: 380 }}>
        <nav aria-label="Wizard steps">
          <ol style={{ listStyle: 'none', margin: 0, padding: 0 }}>
            {p.steps.map((s, i) => {
              const bad = s.params?.some((x) => errorKeys.includes(x));
              const reachable = firstInvalid < 0 || i <= firstInvalid;
              return (
                <li key={s.id}>
                  <Button
                    variant="plain"
                    isDisabled={!reachable || busy}
                    onClick={() => setAt(i)}
                    data-testid={`wizard-step-${s.id}`}
                    style={{
                      fontWeight: i === at ? 700 : 400,
                      color: bad ? 'var(--pf-v5-global--danger-color--100)' : undefined,
                      padding: '4px 8px',
                    }}
                  >
                    {i + 1}. {s.title}
                  </Button>
                </li>
              );
            })}
          </ol>
        </nav>
        <div>
          {error !== undefined && (
            <Alert variant="danger" isInline title={errorMessage(error)} data-testid="wizard-error" style={{ marginBottom: 8 }} />
          )}
          {taskError && <Alert variant="danger" isInline title={`Task failed: ${taskError}`} style={{ marginBottom: 8 }} />}
          <Form
            isHorizontal
            onSubmit={(e) => {
              e.preventDefault();
            }}
            data-testid={`wizard-body-${step.id}`}
          >
            {step.body(error)}
          </Form>
          <TaskOutput f={f} title="Create" />
        </div>
      </div>
    </Modal>
  );
}

/** The "Confirm" step's table of parameters. */
export function ParamTable({ params }: { params: Record<string, string | number | boolean | undefined> }) {
  return (
    <table className="pyxis-kv" data-testid="wizard-summary">
      <tbody>
        {Object.entries(params)
          .filter(([, v]) => v !== undefined && v !== '')
          .map(([k, v]) => (
            <tr key={k}>
              <th>{k}</th>
              <td className="pyxis-mono">{k === 'password' || k === 'cipassword' ? '********' : String(typeof v === 'boolean' ? (v ? 1 : 0) : v)}</td>
            </tr>
          ))}
      </tbody>
    </table>
  );
}
