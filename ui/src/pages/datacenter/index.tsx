// Datacenter ("root") page: registration of its tabs. Heavy tabs are lazy chunks.

import { lazy } from 'react';
import { registerPage, registerTab } from '@/registry/registry';
import { DatacenterSummary } from './Summary';

registerPage({ kind: 'root', title: () => 'Datacenter' });

const audit = (_o: unknown, s: { can: (p: string, x: string) => boolean }) => s.can('/', 'Sys.Audit');

registerTab('root', { id: 'summary', title: 'Summary', component: DatacenterSummary, order: 10 });
registerTab('root', { id: 'cluster', title: 'Cluster', component: lazy(() => import('./Cluster')), order: 20, visible: audit });
registerTab('root', { id: 'options', title: 'Options', component: lazy(() => import('./Options')), order: 30, visible: audit });
registerTab('root', {
  id: 'storage',
  title: 'Storage',
  component: lazy(() => import('./StorageList')),
  order: 40,
  visible: (_o, s) => s.can('/storage', 'Datastore.Audit') || s.can('/', 'Sys.Audit'),
});
registerTab('root', {
  id: 'users',
  title: 'Users',
  component: lazy(() => import('./access/Users')),
  order: 50,
  visible: (_o, s) => s.can('/access', 'User.Modify') || s.can('/access', 'Sys.Audit'),
});
registerTab('root', {
  id: 'tokens',
  title: 'API Tokens',
  component: lazy(() => import('./access/Tokens')),
  order: 51,
});
registerTab('root', {
  id: 'tfa',
  title: 'Two Factor',
  component: lazy(() => import('./access/Tfa')),
  order: 52,
});
registerTab('root', {
  id: 'groups',
  title: 'Groups',
  component: lazy(() => import('./access/Groups')),
  order: 53,
  visible: (_o, s) => s.can('/access', 'Sys.Audit') || s.can('/access', 'Group.Allocate'),
});
registerTab('root', {
  id: 'pools',
  title: 'Pools',
  component: lazy(() => import('./access/Pools')),
  order: 54,
  visible: (_o, s) => s.can('/', 'Sys.Audit') || s.canAny('Pool.Allocate'),
});
registerTab('root', {
  id: 'roles',
  title: 'Roles',
  component: lazy(() => import('./access/Roles')),
  order: 55,
  visible: (_o, s) => s.can('/access', 'Sys.Audit') || s.canAny('Permissions.Modify'),
});
registerTab('root', {
  id: 'acl',
  title: 'Permissions',
  component: lazy(() => import('./access/Acl')),
  order: 56,
  visible: (_o, s) => s.can('/access', 'Sys.Audit') || s.canAny('Permissions.Modify'),
});
registerTab('root', {
  id: 'realms',
  title: 'Realms',
  component: lazy(() => import('./access/Realms')),
  order: 57,
  visible: audit,
});
registerTab('root', { id: 'tasks', title: 'Tasks', component: lazy(() => import('./Tasks')), order: 90 });
