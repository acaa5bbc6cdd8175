// The task panel's context: pages announce tasks they started (the panel refreshes
// and can pop the log viewer open) and anyone can open the log viewer for a UPID.

import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';

interface TasksApi {
  /** UPID whose log viewer is open, or null */
  viewing: string | null;
  openTask: (upid: string) => void;
  closeTask: () => void;
  /** tell the task panel a task was started (refreshes it now) */
  started: (upid: string) => void;
  /** bumps whenever started() is called; the panel reloads on change */
  generation: number;
}

const Ctx = createContext<TasksApi | null>(null);

export function TasksProvider({ children }: { children: ReactNode }) {
  const [viewing, setViewing] = useState<string | null>(null);
  const [generation, setGeneration] = useState(0);
  const openTask = useCallback((upid: string) => setViewing(upid), []);
  const closeTask = useCallback(() => setViewing(null), []);
  const started = useCallback((_upid: string) => setGeneration((g) => g + 1), []);
  const value = useMemo(
    () => ({ viewing, openTask, closeTask, started, generation }),
    [viewing, openTask, closeTask, started, generation],
  );
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useTasks(): TasksApi {
  const v = useContext(Ctx);
  if (!v) throw new Error('useTasks outside TasksProvider');
  return v;
}
