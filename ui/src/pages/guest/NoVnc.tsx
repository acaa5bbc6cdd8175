// A VNC console: noVNC's RFB client over /vncproxy + /vncwebsocket. The websocket
// upgrade is authenticated by the PVEAuthCookie and the console ticket; QEMU's VNC
// server asks for no password (security type None). Import lazily: noVNC is large.

import RFB from '@novnc/novnc';
import { Alert, Button } from '@patternfly/react-core';
import { useEffect, useRef, useState } from 'react';
import { api, errorMessage } from '@/api';

interface VncProxy {
  port: number | string;
  ticket: string;
  user: string;
  upid?: string;
  password?: string;
}

export function NoVnc({ vncproxy, websocket }: { vncproxy: string; websocket: string }) {
  const box = useRef<HTMLDivElement>(null);
  const rfbRef = useRef<RFB | null>(null);
  const [state, setState] = useState<'connecting' | 'connected' | 'closed'>('connecting');
  const [error, setError] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    let disposed = false;
    setState('connecting');
    setError(null);
    (async () => {
      try {
        const vp = await api.post<VncProxy>(vncproxy, { websocket: 1 });
        if (disposed) return;
        const qs = new URLSearchParams({ port: String(vp.port), vncticket: vp.ticket });
        const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
        const rfb = new RFB(el, `${proto}//${location.host}/api2/json${websocket}?${qs}`, {
          wsProtocols: ['binary'],
          credentials: { password: vp.password ?? vp.ticket },
        });
        rfb.scaleViewport = true;
        rfb.background = 'transparent';
        rfbRef.current = rfb;
        rfb.addEventListener('connect', () => !disposed && setState('connected'));
        rfb.addEventListener('disconnect', (ev: Event) => {
          rfbRef.current = null;
          if (disposed) return;
          const clean = (ev as CustomEvent<{ clean: boolean }>).detail?.clean;
          setState('closed');
          if (!clean) setError('connection lost');
        });
        rfb.addEventListener('credentialsrequired', () => rfb.sendCredentials({ password: vp.password ?? vp.ticket }));
        rfb.addEventListener('securityfailure', (ev: Event) => {
          const d = (ev as CustomEvent<{ reason?: string }>).detail;
          setError(`security failure${d?.reason ? `: ${d.reason}` : ''}`);
        });
      } catch (err) {
        if (!disposed) {
          setError(errorMessage(err));
          setState('closed');
        }
      }
    })();
    return () => {
      disposed = true;
      rfbRef.current?.disconnect();
      rfbRef.current = null;
    };
  }, [vncproxy, websocket, attempt]);

  return (
    <div className="pyxis-console" style={{ display: 'flex', flexDirection: 'column', height: '100%' }}>
      <div className="pyxis-toolbar">
        <Button size="sm" variant="secondary" isDisabled={state !== 'connected'} onClick={() => rfbRef.current?.sendCtrlAltDel()} data-testid="vnc-cad">
          Ctrl-Alt-Del
        </Button>
        {state === 'closed' && (
          <Button size="sm" onClick={() => setAttempt((a) => a + 1)} data-testid="vnc-reconnect">
            Reconnect
          </Button>
        )}
        <span data-testid="vnc-state">{state}</span>
      </div>
      {error && <Alert variant="danger" isInline title={`Console: ${error}`} />}
      <div ref={box} data-testid="vnc-screen" data-state={state} style={{ flex: 1, minHeight: 400, background: '#000' }} />
    </div>
  );
}

export default NoVnc;
