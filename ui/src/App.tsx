// Login gate: the login page until there is a session, then the application shell
// with its context providers (session, navigation, resources, tasks).

import { useCallback, useState } from 'react';
import { restoreSession, type Session } from '@/api/session';
import { NavigationProvider } from '@/hooks/navigation';
import { ResourcesProvider } from '@/hooks/resources';
import { SessionProvider } from '@/hooks/session';
import { TasksProvider } from '@/hooks/tasks';
import { Shell } from '@/layout/Shell';
import { LoginPage } from '@/pages/login/LoginPage';

export function App() {
  const [session, setSession] = useState<Session | null>(() => restoreSession());
  const end = useCallback(() => setSession(null), []);
  if (!session) return <LoginPage onLogin={setSession} />;
  return (
    <SessionProvider session={session} onEnd={end}>
      <NavigationProvider>
        <ResourcesProvider>
          <TasksProvider>
            <Shell />
          </TasksProvider>
        </ResourcesProvider>
      </NavigationProvider>
    </SessionProvider>
  );
}
