// The host shell: xterm.js over /nodes/{node}/termproxy + /vncwebsocket (needs Sys.Console).

import { seg } from '@/api';
import { Terminal } from '@/components/Terminal';
import type { TabProps } from '@/registry/registry';

export default function NodeShell({ obj }: TabProps) {
  const node = seg(obj.node ?? '');
  return <Terminal termproxy={`/nodes/${node}/termproxy`} websocket={`/nodes/${node}/vncwebsocket`} />;
}
