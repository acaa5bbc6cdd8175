// The bottom panel: recent tasks (cluster-wide when /cluster/tasks exists, else per
// node), refreshed every few seconds and right after the UI starts one. A click opens
// the task log viewer.

import { Button } from '@patternfly/react-core';
import { AngleDownIcon, AngleUpIcon } from '@patternfly/react-icons';
import { useEffect, useState } from 'react';
import { api, ApiError, seg, type TaskItem } from '@/api';
import { TaskStatusLabel } from '@/components/TaskViewer';
import { formatTime } from '@/components/format';
import { useResources } from '@/hooks/resources';
import { useTasks } from '@/hooks/tasks';

const POLL_MS = 3000;
const LIMIT = 50;

/** Recent tasks: /cluster/tasks, falling back to merging /nodes/{node}/tasks. */
let clusterTasks = true; // false once the daemon said it has no /cluster/tasks

export async function recentTasks(nodes: string[], signal?: AbortSignal): Promise<TaskItem[]> {
  if (clusterTasks) {
    try {
      return await api.get<TaskItem[]>('/cluster/tasks', undefined, { signal });
    } catch (err) {
      if (!(err instanceof ApiError) || (err.status !== 404 && err.status !== 501)) throw err;
      clusterTasks = false;
    }
  }
  const lists = await Promise.all(
    nodes.map((n) =>
      api.get<TaskItem[]>(`/nodes/${seg(n)}/tasks`, { limit: LIMIT, source: 'all' }, { signal }).catch(() => [] as TaskItem[]),
    ),
  );
  return lists.flat().sort((a, b) => b.starttime - a.starttime).slice(0, LIMIT);
}

export function TaskPanel({ open, setOpen }: { open: boolean; setOpen: (v: boolean) => void }) {
  const { resources } = useResources();
  const { openTask, generation } = useTasks();
  const [tasks, setTasks] = useState<TaskItem[]>([]);
  const nodes = resources.filter((r) => r.type === 'node').map((r) => r.node ?? '');
  const nodeKey = nodes.join(',');

  useEffect(() => {
    const ctl = new AbortController();
    const load = () => {
      if (document.hidden) return;
      recentTasks(nodeKey ? nodeKey.split(',') : [], ctl.signal)
        .then((t) => setTasks(t.slice(0, LIMIT)))
        .catch(() => undefined);
    };
    load();
    const id = window.setInterval(load, POLL_MS);
    return () => {
      ctl.abort();
      window.clearInterval(id);
    };
  }, [nodeKey, generation]);

  return (
    <section className={`pyxis-taskpanel${open ? '' : ' is-collapsed'}`} data-testid="task-panel">
      <div className="pyxis-taskpanel-head">
        <strong>Tasks</strong>
        <Button variant="plain" aria-label={open ? 'Hide tasks' : 'Show tasks'} onClick={() => setOpen(!open)}>
          {open ? <AngleDownIcon /> : <AngleUpIcon />}
        </Button>
      </div>
      {open && (
        <div className="pyxis-taskpanel-body">
          <table className="pyxis-tasktable">
            <thead>
              <tr>
                <th>Start time</th>
                <th>End time</th>
                <th>Node</th>
                <th>User</th>
                <th>Description</th>
                <th>Status</th>
              </tr>
            </thead>
            <tbody>
              {tasks.map((t) => (
                <tr key={t.upid} onClick={() => openTask(t.upid)} className="pyxis-clickable">
                  <td>{formatTime(t.starttime)}</td>
                  <td>{t.endtime ? formatTime(t.endtime) : ''}</td>
                  <td>{t.node}</td>
                  <td>{t.user}</td>
                  <td>
                    {t.type} {t.id}
                  </td>
                  <td>{t.endtime || t.status ? <TaskStatusLabel status={t.status} /> : <TaskStatusLabel />}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
