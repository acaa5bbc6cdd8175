// Container page: its header toolbar and tabs. Shared pieces live in pages/guest/.

import { lazy } from 'react';
import type { SessionApi } from '@/hooks/session';
import { registerPage, registerTab, type ObjectRef } from '@/registry/registry';
import { GuestActions } from '../guest/GuestActions';

registerPage({
  kind: 'lxc',
  title: (o) => `Container ${o.vmid}${o.resource?.name ? ` (${o.resource.name})` : ''} on node '${o.node ?? '?'}'`,
  actions: GuestActions,
});

const may = (priv: string) => (o: ObjectRef, s: SessionApi) => s.can(`/vms/${o.vmid}`, priv);
const template = (o: ObjectRef) => !!o.resource?.template;

registerTab('lxc', { id: 'summary', title: 'Summary', component: lazy(() => import('../guest/GuestSummary')), order: 10, visible: may('VM.Audit') });
registerTab('lxc', { id: 'console', title: 'Console', component: lazy(() => import('./Console')), order: 15, visible: (o, s) => !template(o) && may('VM.Console')(o, s) });
registerTab('lxc', { id: 'resources', title: 'Resources', component: lazy(() => import('./Resources')), order: 20, visible: may('VM.Audit') });
registerTab('lxc', { id: 'network', title: 'Network', component: lazy(() => import('./Network')), order: 22, visible: may('VM.Audit') });
registerTab('lxc', { id: 'dns', title: 'DNS', component: lazy(() => import('./Dns')), order: 24, visible: may('VM.Audit') });
registerTab('lxc', { id: 'options', title: 'Options', component: lazy(() => import('./Options')), order: 30, visible: may('VM.Audit') });
registerTab('lxc', { id: 'snapshots', title: 'Snapshots', component: lazy(() => import('../guest/Snapshots')), order: 40, visible: (o, s) => !template(o) && may('VM.Audit')(o, s) });
