// Storage page (a storage on one node): summary and one content tab per content type.

import { lazy } from 'react';
import type { ObjectRef, TabProps } from '@/registry/registry';
import { registerPage, registerTab } from '@/registry/registry';

registerPage({ kind: 'storage', title: (o) => `Storage '${o.storage}' on node '${o.node}'` });

const Content = lazy(() => import('./Content'));
/** one tab component per content type (stable identity, so tabs do not remount) */
const contentTab = (content: string) => {
  const C = (p: TabProps) => <Content {...p} content={content} />;
  C.displayName = `Content(${content})`;
  return C;
};
const hasContent = (type: string) => (o: ObjectRef) => (o.resource?.content ?? '').split(',').includes(type);

registerTab('storage', { id: 'summary', title: 'Summary', component: lazy(() => import('./Summary')), order: 10 });
registerTab('storage', { id: 'iso', title: 'ISO Images', component: contentTab('iso'), order: 20, visible: hasContent('iso') });
registerTab('storage', { id: 'vztmpl', title: 'CT Templates', component: contentTab('vztmpl'), order: 21, visible: hasContent('vztmpl') });
registerTab('storage', { id: 'images', title: 'VM Disks', component: contentTab('images'), order: 22, visible: hasContent('images') });
registerTab('storage', { id: 'rootdir', title: 'CT Volumes', component: contentTab('rootdir'), order: 23, visible: hasContent('rootdir') });
registerTab('storage', { id: 'backup', title: 'Backups', component: contentTab('backup'), order: 24, visible: hasContent('backup') });
registerTab('storage', { id: 'import', title: 'Import', component: contentTab('import'), order: 25, visible: hasContent('import') });
registerTab('storage', { id: 'snippets', title: 'Snippets', component: contentTab('snippets'), order: 26, visible: hasContent('snippets') });
