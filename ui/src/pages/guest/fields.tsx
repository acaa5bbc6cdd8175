// Form fields of the guest pages. Like components/forms.tsx, but the DOM id and the API
// parameter whose error the field shows are separate: several inputs (storage, size,
// format...) make up one composite parameter such as `scsi0` or `net0`.

import { Checkbox, FormGroup, FormHelperText, FormSelect, FormSelectOption, HelperText, HelperTextItem, TextArea, TextInput } from '@patternfly/react-core';
import type { ReactNode } from 'react';
import { fieldError } from '@/components/forms';

interface Base {
  id: string;
  label: string;
  /** API parameter whose per-field error this input shows (default: id) */
  param?: string;
  error?: unknown;
  helper?: ReactNode;
  required?: boolean;
  isDisabled?: boolean;
}

function Group(p: Base & { children: ReactNode; showError?: boolean }) {
  const msg = p.showError === false ? undefined : fieldError(p.error, p.param ?? p.id);
  return (
    <FormGroup label={p.label} isRequired={p.required} fieldId={p.id}>
      {p.children}
      {(msg || p.helper) && (
        <FormHelperText>
          <HelperText>
            <HelperTextItem variant={msg ? 'error' : 'default'} data-testid={msg ? `field-error-${p.param ?? p.id}` : undefined}>
              {msg ?? p.helper}
            </HelperTextItem>
          </HelperText>
        </FormHelperText>
      )}
    </FormGroup>
  );
}

export function TextF(p: Base & { value: string; onChange: (v: string) => void; type?: 'text' | 'password' | 'number'; placeholder?: string; showError?: boolean }) {
  const bad = p.showError !== false && !!fieldError(p.error, p.param ?? p.id);
  return (
    <Group {...p}>
      <TextInput
        id={p.id}
        data-testid={p.id}
        type={p.type ?? 'text'}
        value={p.value}
        onChange={(_e, v) => p.onChange(v)}
        validated={bad ? 'error' : 'default'}
        placeholder={p.placeholder}
        isDisabled={p.isDisabled}
      />
    </Group>
  );
}

export function AreaF(p: Base & { value: string; onChange: (v: string) => void; rows?: number }) {
  const bad = !!fieldError(p.error, p.param ?? p.id);
  return (
    <Group {...p}>
      <TextArea id={p.id} data-testid={p.id} value={p.value} onChange={(_e, v) => p.onChange(v)} validated={bad ? 'error' : 'default'} rows={p.rows ?? 3} isDisabled={p.isDisabled} />
    </Group>
  );
}

export type Opt = string | { value: string; label: string };

export function SelectF(p: Base & { value: string; onChange: (v: string) => void; options: Opt[]; showError?: boolean }) {
  const bad = p.showError !== false && !!fieldError(p.error, p.param ?? p.id);
  return (
    <Group {...p}>
      <FormSelect id={p.id} data-testid={p.id} value={p.value} onChange={(_e, v) => p.onChange(v)} validated={bad ? 'error' : 'default'} isDisabled={p.isDisabled}>
        {p.options.map((o) => {
          const v = typeof o === 'string' ? o : o.value;
          const l = typeof o === 'string' ? o : o.label;
          return <FormSelectOption key={v} value={v} label={l} />;
        })}
      </FormSelect>
    </Group>
  );
}

export function CheckF(p: Base & { checked: boolean; onChange: (v: boolean) => void }) {
  return (
    <Group {...p} label="">
      <Checkbox id={p.id} data-testid={p.id} label={p.label} isChecked={p.checked} onChange={(_e, v) => p.onChange(v)} isDisabled={p.isDisabled} />
    </Group>
  );
}
