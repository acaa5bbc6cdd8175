// Node page: registration of its tabs.

import { lazy } from 'react';
import { registerPage, registerTab } from '@/registry/registry';

registerPage({ kind: 'node', title: (o) => `Node ${o.node}` });

const audit = (o: { node?: string }, s: { can: (p: string, x: string) => boolean }) => s.can(`/nodes/${o.node}`, 'Sys.Audit');

registerTab('node', { id: 'summary', title: 'Summary', component: lazy(() => import('./Summary')), order: 10, visible: audit });
registerTab('node', { id: 'storage', title: 'Storage', component: lazy(() => import('./Storage')), order: 20 });
registerTab('node', {
  id: 'shell',
  title: 'Shell',
  component: lazy(() => import('./ShellTab')),
  order: 30,
  visible: (o, s) => s.can(`/nodes/${o.node}`, 'Sys.Console'),
});
registerTab('node', { id: 'syslog', title: 'System Log', component: lazy(() => import('./Syslog')), order: 40, visible: (o, s) => s.can(`/nodes/${o.node}`, 'Sys.Syslog') });
registerTab('node', { id: 'tasks', title: 'Tasks', component: lazy(() => import('./Tasks')), order: 50 });
