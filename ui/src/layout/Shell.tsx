// The logged-in application frame: top bar, resource tree, content panel, task panel,
// the task log viewer, the help dialog and the global keyboard shortcuts.

import { useEffect, useRef, useState } from 'react';
import { TaskViewer } from '@/components/TaskViewer';
import { useNavigation } from '@/hooks/navigation';
import { useResources } from '@/hooks/resources';
import { useTasks } from '@/hooks/tasks';
import { useTheme } from '@/hooks/theme';
import { ContentPanel } from './ContentPanel';
import { HelpDialog } from './HelpDialog';
import { ResourceTree } from './ResourceTree';
import { isTyping } from './shortcuts';
import { TaskPanel } from './TaskPanel';
import { TopBar } from './TopBar';

export function Shell() {
  const [theme, toggleTheme] = useTheme();
  const [help, setHelp] = useState(false);
  const [tasksOpen, setTasksOpen] = useState(() => localStorage.getItem('pyxis.tasksOpen') !== '0');
  const searchRef = useRef<HTMLInputElement>(null);
  const { viewing, closeTask } = useTasks();
  const { navigate } = useNavigation();
  const { resources } = useResources();
  const pending = useRef<string | null>(null);

  const showTasks = (v: boolean) => {
    setTasksOpen(v);
    localStorage.setItem('pyxis.tasksOpen', v ? '1' : '0');
  };

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey || isTyping(e.target)) return;
      if (document.querySelector('.pf-v5-c-modal-box')) return;
      const prefix = pending.current;
      pending.current = null;
      if (prefix === 'g') {
        if (e.key === 'd') navigate('root');
        if (e.key === 'n') {
          const n = resources.find((r) => r.type === 'node');
          if (n) navigate(n.id);
        }
        return;
      }
      switch (e.key) {
        case '/':
          e.preventDefault();
          searchRef.current?.focus();
          break;
        case '?':
          setHelp(true);
          break;
        case 'g':
          pending.current = 'g';
          break;
        case 't':
          showTasks(!tasksOpen);
          break;
        case 'D':
          toggleTheme();
          break;
        default:
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  });

  return (
    <div className={`pyxis-shell${tasksOpen ? '' : ' tasks-collapsed'}`}>
      <TopBar ref={searchRef} theme={theme} toggleTheme={toggleTheme} openHelp={() => setHelp(true)} />
      <nav className="pyxis-sidebar">
        <ResourceTree />
      </nav>
      <main className="pyxis-main">
        <ContentPanel />
      </main>
      <TaskPanel open={tasksOpen} setOpen={showTasks} />
      {viewing && <TaskViewer upid={viewing} onClose={closeTask} />}
      {help && <HelpDialog onClose={() => setHelp(false)} />}
    </div>
  );
}
