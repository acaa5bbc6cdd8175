// Worker tasks: UPID parsing, status polling and log streaming.
//
// Long operations answer with a UPID; the UI follows them through
// /nodes/{node}/tasks/{upid}/status and /log (paged by `start`).

import { api, seg } from './client';
import type { TaskLogLine, TaskStatus } from './types';

export interface Upid {
  node: string;
  pid: number;
  starttime: number;
  type: string;
  id: string;
  user: string;
}

/** "UPID:node:pid:pstart:starttime:type:id:user:" -> its fields (null if malformed). */
export function parseUpid(upid: string): Upid | null {
  const m = /^UPID:([^:]+):([0-9A-Fa-f]{8}):[0-9A-Fa-f]{8,9}:([0-9A-Fa-f]{8}):([^:]*):([^:]*):([^:]+):/.exec(upid);
  if (!m) return null;
  return {
    node: m[1],
    pid: parseInt(m[2], 16),
    starttime: parseInt(m[3], 16),
    type: m[4],
    id: m[5],
    user: m[6],
  };
}

export function isUpid(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith('UPID:');
}

function taskPath(upid: string): string {
  const node = parseUpid(upid)?.node ?? 'localhost';
  return `/nodes/${seg(node)}/tasks/${seg(upid)}`;
}

export function taskStatus(upid: string): Promise<TaskStatus> {
  return api.get<TaskStatus>(`${taskPath(upid)}/status`);
}

export function taskLog(upid: string, start = 0, limit = 500): Promise<TaskLogLine[]> {
  return api.get<TaskLogLine[]>(`${taskPath(upid)}/log`, { start, limit });
}

export function stopTask(upid: string): Promise<null> {
  return api.del<null>(taskPath(upid));
}

/** A task ended well when its exit status is "OK" (upstream also treats "WARNINGS: n" as ok). */
export function taskOk(status: TaskStatus): boolean {
  return status.exitstatus === 'OK' || (status.exitstatus ?? '').startsWith('WARNINGS');
}

export interface FollowHandlers {
  /** new log lines as they arrive */
  onLog?: (lines: TaskLogLine[]) => void;
  onStatus?: (status: TaskStatus) => void;
}

/**
 * Follow a task until it stops: streams its log and resolves with the final status.
 * Cancel with the AbortSignal. Polls every `intervalMs`.
 */
export async function followTask(
  upid: string,
  handlers: FollowHandlers = {},
  signal?: AbortSignal,
  intervalMs = 1000,
): Promise<TaskStatus> {
  let next = 0;
  for (;;) {
    if (signal?.aborted) throw new DOMException('aborted', 'AbortError');
    const [status, lines] = await Promise.all([taskStatus(upid), taskLog(upid, next, 1000)]);
    const fresh = lines.filter((l) => l.n > next);
    if (fresh.length) {
      next = fresh[fresh.length - 1].n;
      handlers.onLog?.(fresh);
    }
    handlers.onStatus?.(status);
    if (status.status === 'stopped') {
      // one last read: lines written between the two requests
      const tail = (await taskLog(upid, next, 1000)).filter((l) => l.n > next);
      if (tail.length) handlers.onLog?.(tail);
      return status;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Rough progress (0..1) from the last "NN%" seen in a task log, or null. */
export function progressFromLog(lines: TaskLogLine[]): number | null {
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = /(\d{1,3}(?:\.\d+)?)\s*%/.exec(lines[i].t);
    if (m) return Math.min(1, parseFloat(m[1]) / 100);
  }
  return null;
}
