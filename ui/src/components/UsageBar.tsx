// A labelled usage bar (used / total) for summaries and tables.

import { Progress, ProgressMeasureLocation, ProgressSize, ProgressVariant } from '@patternfly/react-core';
import { formatBytes, ratio } from './format';

export function UsageBar(p: { title: string; used?: number; total?: number; bytes?: boolean; fraction?: number }) {
  const f = p.fraction ?? ratio(p.used, p.total);
  const label =
    p.fraction !== undefined
      ? `${(f * 100).toFixed(1)}%`
      : p.bytes === false
        ? `${p.used ?? 0} of ${p.total ?? 0}`
        : `${(f * 100).toFixed(1)}% (${formatBytes(p.used)} of ${formatBytes(p.total)})`;
  return (
    <Progress
      title={p.title}
      value={f * 100}
      label={label}
      valueText={label}
      size={ProgressSize.sm}
      measureLocation={ProgressMeasureLocation.top}
      variant={f > 0.9 ? ProgressVariant.danger : f > 0.8 ? ProgressVariant.warning : undefined}
    />
  );
}
