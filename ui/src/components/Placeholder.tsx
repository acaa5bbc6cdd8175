// A tab that is registered but not built yet.
import { EmptyState, EmptyStateBody, EmptyStateHeader } from '@patternfly/react-core';

export function Placeholder({ what }: { what: string }) {
  return (
    <EmptyState>
      <EmptyStateHeader titleText={what} headingLevel="h2" />
      <EmptyStateBody>Not available in the web UI yet; use the API or CLI.</EmptyStateBody>
    </EmptyState>
  );
}
