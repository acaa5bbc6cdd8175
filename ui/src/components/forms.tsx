// Form helpers: fields that show the API's per-parameter error under themselves.
//
// Pass the error thrown by the submit (an ApiError) as `error`; a field whose `name`
// is a key of error.errors turns red and shows the message.

import {
  FormGroup,
  FormHelperText,
  FormSelect,
  FormSelectOption,
  HelperText,
  HelperTextItem,
  TextInput,
  Checkbox,
} from '@patternfly/react-core';
import type { ReactNode } from 'react';
import { ApiError } from '@/api';

export function fieldError(error: unknown, name: string): string | undefined {
  return error instanceof ApiError ? error.errors[name] : undefined;
}

/** The error message minus anything a field already shows (for the form-level alert). */
export function hasFieldErrors(error: unknown, names: string[]): boolean {
  return error instanceof ApiError && names.some((n) => n in error.errors);
}

interface FieldProps {
  label: string;
  name: string;
  error?: unknown;
  required?: boolean;
  helper?: ReactNode;
  children: ReactNode;
}

export function Field({ label, name, error, required, helper, children }: FieldProps) {
  const msg = fieldError(error, name);
  return (
    <FormGroup label={label} isRequired={required} fieldId={`f-${name}`}>
      {children}
      {(msg || helper) && (
        <FormHelperText>
          <HelperText>
            <HelperTextItem variant={msg ? 'error' : 'default'} data-testid={msg ? `field-error-${name}` : undefined}>
              {msg ?? helper}
            </HelperTextItem>
          </HelperText>
        </FormHelperText>
      )}
    </FormGroup>
  );
}

interface TextFieldProps {
  label: string;
  name: string;
  value: string;
  onChange: (v: string) => void;
  error?: unknown;
  required?: boolean;
  type?: 'text' | 'password' | 'number' | 'email';
  helper?: ReactNode;
  placeholder?: string;
  isDisabled?: boolean;
  autoFocus?: boolean;
}

export function TextField(p: TextFieldProps) {
  const msg = fieldError(p.error, p.name);
  return (
    <Field label={p.label} name={p.name} error={p.error} required={p.required} helper={p.helper}>
      <TextInput
        id={`f-${p.name}`}
        name={p.name}
        type={p.type ?? 'text'}
        value={p.value}
        onChange={(_e, v) => p.onChange(v)}
        validated={msg ? 'error' : 'default'}
        isRequired={p.required}
        placeholder={p.placeholder}
        isDisabled={p.isDisabled}
        autoFocus={p.autoFocus}
      />
    </Field>
  );
}

interface SelectFieldProps {
  label: string;
  name: string;
  value: string;
  onChange: (v: string) => void;
  options: { value: string; label: string }[];
  error?: unknown;
  required?: boolean;
  helper?: ReactNode;
  isDisabled?: boolean;
}

export function SelectField(p: SelectFieldProps) {
  const msg = fieldError(p.error, p.name);
  return (
    <Field label={p.label} name={p.name} error={p.error} required={p.required} helper={p.helper}>
      <FormSelect
        id={`f-${p.name}`}
        name={p.name}
        value={p.value}
        onChange={(_e, v) => p.onChange(v)}
        validated={msg ? 'error' : 'default'}
        isDisabled={p.isDisabled}
      >
        {p.options.map((o) => (
          <FormSelectOption key={o.value} value={o.value} label={o.label} />
        ))}
      </FormSelect>
    </Field>
  );
}

export function CheckField(p: { label: string; name: string; checked: boolean; onChange: (v: boolean) => void; error?: unknown }) {
  return (
    <Field label="" name={p.name} error={p.error}>
      <Checkbox id={`f-${p.name}`} name={p.name} label={p.label} isChecked={p.checked} onChange={(_e, v) => p.onChange(v)} />
    </Field>
  );
}
