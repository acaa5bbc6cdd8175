// Following a task inline (wizards, clone, snapshot, start): its log streams into a
// box, with the progress of the last "NN%" and the exit status when it ends.

import { Alert, Progress, ProgressSize } from '@patternfly/react-core';
import { useCallback, useEffect, useRef, useState } from 'react';
import { followTask, progressFromLog, taskOk, type TaskLogLine, type TaskStatus } from '@/api';
import { useTasks } from '@/hooks/tasks';

export interface Follow {
  upid: string | null;
  lines: TaskLogLine[];
  status: TaskStatus | null;
  /** follow `upid` until it stops; resolves with its final status */
  follow: (upid: string) => Promise<TaskStatus>;
  reset: () => void;
}

export function useFollow(): Follow {
  const [upid, setUpid] = useState<string | null>(null);
  const [lines, setLines] = useState<TaskLogLine[]>([]);
  const [status, setStatus] = useState<TaskStatus | null>(null);
  const ctl = useRef<AbortController | null>(null);
  const tasks = useTasks();
  useEffect(() => () => ctl.current?.abort(), []);
  const follow = useCallback(
    async (u: string) => {
      ctl.current?.abort();
      const c = new AbortController();
      ctl.current = c;
      setUpid(u);
      setLines([]);
      setStatus(null);
      tasks.started(u);
      const st = await followTask(u, { onLog: (l) => setLines((prev) => [...prev, ...l]), onStatus: setStatus }, c.signal, 700);
      tasks.started(u);
      return st;
    },
    [tasks],
  );
  const reset = useCallback(() => {
    ctl.current?.abort();
    setUpid(null);
    setLines([]);
    setStatus(null);
  }, []);
  return { upid, lines, status, follow, reset };
}

export function TaskOutput({ f, title }: { f: Follow; title?: string }) {
  const box = useRef<HTMLPreElement>(null);
  useEffect(() => {
    if (box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [f.lines.length]);
  if (!f.upid) return null;
  const done = f.status?.status === 'stopped';
  const ok = done && f.status ? taskOk(f.status) : false;
  const pct = progressFromLog(f.lines);
  return (
    <div data-testid="task-output" data-state={done ? (ok ? 'ok' : 'error') : 'running'}>
      {!done && (
        <Progress
          title={title ?? 'Running'}
          size={ProgressSize.sm}
          value={pct === null ? undefined : pct * 100}
          measureLocation={pct === null ? 'none' : 'outside'}
          aria-label="task progress"
        />
      )}
      {done && ok && <Alert variant="success" isInline isPlain title={`${title ?? 'Task'}: ${f.status?.exitstatus}`} />}
      {done && !ok && (
        <Alert variant="danger" isInline title={`${title ?? 'Task'} failed`} data-testid="task-error">
          {f.status?.exitstatus}
        </Alert>
      )}
      <pre ref={box} className="pyxis-mono" style={{ maxHeight: 220, overflow: 'auto', fontSize: 12, margin: '8px 0', whiteSpace: 'pre-wrap' }} data-testid="task-log">
        {f.lines.map((l) => l.t).join('\n')}
      </pre>
    </div>
  );
}

/** The failure text of a stopped task, or null when it ended well. */
export function taskFailure(st: TaskStatus): string | null {
  return taskOk(st) ? null : st.exitstatus ?? 'unknown error';
}
