// Virtual Machine page: its header toolbar and tabs. Shared pieces live in pages/guest/.

import { lazy } from 'react';
import { registerPage, registerTab, type ObjectRef } from '@/registry/registry';
import type { SessionApi } from '@/hooks/session';
import { GuestActions } from '../guest/GuestActions';

registerPage({
  kind: 'qemu',
  title: (o) => `Virtual Machine ${o.vmid}${o.resource?.name ? ` (${o.resource.name})` : ''} on node '${o.node ?? '?'}'`,
  actions: GuestActions,
});

const may = (priv: string) => (o: ObjectRef, s: SessionApi) => s.can(`/vms/${o.vmid}`, priv);
const template = (o: ObjectRef) => !!o.resource?.template;

registerTab('qemu', { id: 'summary', title: 'Summary', component: lazy(() => import('../guest/GuestSummary')), order: 10, visible: may('VM.Audit') });
registerTab('qemu', {
  id: 'console',
  title: 'Console',
  component: lazy(() => import('./Console')),
  order: 15,
  visible: (o, s) => !template(o) && may('VM.Console')(o, s),
});
registerTab('qemu', { id: 'hardware', title: 'Hardware', component: lazy(() => import('./Hardware')), order: 20, visible: may('VM.Audit') });
registerTab('qemu', { id: 'cloudinit', title: 'Cloud-Init', component: lazy(() => import('./CloudInit')), order: 25, visible: may('VM.Audit') });
registerTab('qemu', { id: 'options', title: 'Options', component: lazy(() => import('./Options')), order: 30, visible: may('VM.Audit') });
registerTab('qemu', { id: 'snapshots', title: 'Snapshots', component: lazy(() => import('../guest/Snapshots')), order: 40, visible: (o, s) => !template(o) && may('VM.Audit')(o, s) });
