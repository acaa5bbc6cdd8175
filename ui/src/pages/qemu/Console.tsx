// VM console: noVNC for the display, or xterm.js over termproxy for a serial port
// (serialN: socket). The default follows the config: `vga: serialN` or no VGA with a
// serial port -> serial; otherwise VNC. Needs VM.Console (the tab is hidden without).

import { ToggleGroup, ToggleGroupItem } from '@patternfly/react-core';
import { lazy, Suspense, useMemo, useState } from 'react';
import { Loading } from '@/layout/ContentPanel';
import { useApi } from '@/hooks/useApi';
import type { TabProps } from '@/registry/registry';
import type { GuestConfig } from '../guest/config';
import { guestPath } from '../guest/paths';

const NoVnc = lazy(() => import('../guest/NoVnc'));
const Terminal = lazy(() => import('@/components/Terminal'));

export default function VmConsole({ obj }: TabProps) {
  const cfg = useApi<GuestConfig>(guestPath(obj, '/config'));
  const serials = Object.keys(cfg.data ?? {}).filter((k) => /^serial\d$/.test(k) && cfg.data?.[k] === 'socket').sort();
  const vga = String(cfg.data?.vga ?? '').split(',')[0];
  const preferSerial = /^serial\d$/.test(vga) || (vga === 'none' && serials.length > 0);
  const [choice, setChoice] = useState<string | null>(null);
  const mode = choice ?? (preferSerial ? (/^serial\d$/.test(vga) ? vga : serials[0]) : 'vnc');
  const params = useMemo(() => ({ serial: mode }), [mode]);
  const running = obj.resource?.status === 'running';
  if (!cfg.data) return <Loading />;
  return (
    <div style={{ display: 'flex', flexDirection: 'column', height: '100%' }} data-testid="vm-console">
      <div className="pyxis-toolbar">
        <ToggleGroup aria-label="Console type">
          <ToggleGroupItem text="VNC (noVNC)" buttonId="console-vnc" isSelected={mode === 'vnc'} onChange={() => setChoice('vnc')} data-testid="console-vnc" />
          {serials.map((s) => (
            <ToggleGroupItem key={s} text={`Serial (${s})`} buttonId={`console-${s}`} isSelected={mode === s} onChange={() => setChoice(s)} data-testid={`console-${s}`} />
          ))}
        </ToggleGroup>
      </div>
      {!running ? (
        <div data-testid="console-stopped">VM {obj.vmid} is not running: start it to open its console.</div>
      ) : (
        <Suspense fallback={<Loading />}>
          {mode === 'vnc' ? (
            <NoVnc key={`vnc-${obj.vmid}`} vncproxy={guestPath(obj, '/vncproxy')} websocket={guestPath(obj, '/vncwebsocket')} />
          ) : (
            <Terminal key={`${mode}-${obj.vmid}`} termproxy={guestPath(obj, '/termproxy')} websocket={guestPath(obj, '/vncwebsocket')} params={params} />
          )}
        </Suspense>
      )}
    </div>
  );
}
