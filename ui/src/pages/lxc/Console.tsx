// Container console: xterm.js over /termproxy + /vncwebsocket (cmode tty/console/shell
// from the config). Needs VM.Console; the container must be running.

import { lazy, Suspense } from 'react';
import { Loading } from '@/layout/ContentPanel';
import type { TabProps } from '@/registry/registry';
import { guestPath } from '../guest/paths';

const Terminal = lazy(() => import('@/components/Terminal'));

export default function CtConsole({ obj }: TabProps) {
  if (obj.resource?.status !== 'running') return <div data-testid="console-stopped">CT {obj.vmid} is not running: start it to open its console.</div>;
  return (
    <div style={{ height: '100%' }} data-testid="ct-console">
      <Suspense fallback={<Loading />}>
        <Terminal key={`ct-${obj.vmid}`} termproxy={guestPath(obj, '/termproxy')} websocket={guestPath(obj, '/vncwebsocket')} />
      </Suspense>
    </div>
  );
}
