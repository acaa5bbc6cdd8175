// A task history table (datacenter, node or guest); a click opens the log viewer.

import { Checkbox } from '@patternfly/react-core';
import { useState } from 'react';
import type { Params, TaskItem } from '@/api';
import { useApi } from '@/hooks/useApi';
import { useTasks } from '@/hooks/tasks';
import { DataTable, type Column } from './DataTable';
import { ErrorAlert } from './ErrorAlert';
import { formatTime } from './format';
import { TaskStatusLabel } from './TaskViewer';

const COLUMNS: Column<TaskItem>[] = [
  { key: 'starttime', title: 'Start time', render: (t) => formatTime(t.starttime), width: 15 },
  { key: 'endtime', title: 'End time', render: (t) => formatTime(t.endtime), width: 15 },
  { key: 'node', title: 'Node', width: 10 },
  { key: 'user', title: 'User', width: 15 },
  { key: 'type', title: 'Description', render: (t) => `${t.type} ${t.id ?? ''}` },
  { key: 'status', title: 'Status', render: (t) => (t.endtime || t.status ? <TaskStatusLabel status={t.status} /> : <TaskStatusLabel />), width: 10 },
];

/** `filters`: the endpoint takes errors/limit (/nodes/{node}/tasks does, /cluster/tasks does not). */
export function TaskList({ path, params, filters = true }: { path: string; params?: Params; filters?: boolean }) {
  const [errorsOnly, setErrorsOnly] = useState(false);
  const { data, error } = useApi<TaskItem[]>(
    path,
    filters ? { ...params, errors: errorsOnly ? 1 : undefined, limit: 500 } : params,
    { interval: 5000 },
  );
  const rows = (data ?? []).filter((t) => !errorsOnly || filters || (t.status && t.status !== 'OK'));
  const { openTask } = useTasks();
  return (
    <div data-testid="task-list">
      <div className="pyxis-toolbar">
        <Checkbox id="tasks-errors" label="Only errors" isChecked={errorsOnly} onChange={(_e, v) => setErrorsOnly(v)} />
      </div>
      <ErrorAlert error={error} />
      <DataTable label="Tasks" rows={rows} columns={COLUMNS} rowKey={(t) => t.upid} onSelect={(t) => openTask(t.upid)} emptyText="No tasks" />
    </div>
  );
}
