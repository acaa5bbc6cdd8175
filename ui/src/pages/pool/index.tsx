// Pool page: its members.

import { lazy } from 'react';
import { registerPage, registerTab } from '@/registry/registry';

registerPage({ kind: 'pool', title: (o) => `Resource Pool ${o.pool}` });
registerTab('pool', { id: 'members', title: 'Members', component: lazy(() => import('./Members')), order: 10 });
