// An API error (or any thrown value) as an inline danger alert.

import { Alert } from '@patternfly/react-core';
import { ApiError, errorMessage } from '@/api';

export function ErrorAlert({ error, title }: { error: unknown; title?: string }) {
  if (error === undefined || error === null) return null;
  const status = error instanceof ApiError && error.status ? ` (${error.status})` : '';
  return (
    <Alert variant="danger" isInline isPlain={false} title={(title ?? 'Error') + status} data-testid="error-alert">
      {errorMessage(error)}
    </Alert>
  );
}
