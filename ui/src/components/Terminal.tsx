// An xterm.js terminal over a termproxy session (host shell, serial console, container
// console). Import lazily: xterm.js stays out of the main chunk.
//
// Protocol (src/pyxis/guests/termproto.py): POST <termproxy> -> {port, ticket, user};
// open wss://.../vncwebsocket?port=&vncticket= (the PVEAuthCookie cookie authenticates
// the upgrade); send "<user>:<ticket>\n", expect "OK"; then input as "0:<utf8 len>:<data>",
// resizes as "1:<cols>:<rows>:", keep-alive "2" every 30 s; output is the raw byte stream.

import { Alert, Button } from '@patternfly/react-core';
import { FitAddon } from '@xterm/addon-fit';
import { Terminal as XTerm } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { useEffect, useRef, useState } from 'react';
import { api, errorMessage, type Params } from '@/api';

interface TermProxy {
  port: number | string;
  ticket: string;
  user: string;
  upid?: string;
}

const encoder = new TextEncoder();
const PING_MS = 30000;

export interface TerminalProps {
  /** API path of the termproxy endpoint, e.g. /nodes/pve1/termproxy */
  termproxy: string;
  /** API path of the websocket endpoint, e.g. /nodes/pve1/vncwebsocket */
  websocket: string;
  params?: Params;
}

export function Terminal({ termproxy, websocket, params }: TerminalProps) {
  const box = useRef<HTMLDivElement>(null);
  const [state, setState] = useState<'connecting' | 'connected' | 'closed'>('connecting');
  const [error, setError] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const term = new XTerm({ cursorBlink: true, fontSize: 13, scrollback: 5000, convertEol: false });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(el);
    fit.fit();
    let ws: WebSocket | null = null;
    let ping = 0;
    let disposed = false;
    setState('connecting');
    setError(null);

    const send = (msg: string) => {
      if (ws && ws.readyState === WebSocket.OPEN) ws.send(msg);
    };
    const sendInput = (data: string) => send(`0:${encoder.encode(data).length}:${data}`);
    const sendSize = () => send(`1:${term.cols}:${term.rows}:`);

    (async () => {
      try {
        const tp = await api.post<TermProxy>(termproxy, params);
        if (disposed) return;
        const qs = new URLSearchParams({ port: String(tp.port), vncticket: tp.ticket });
        const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
        ws = new WebSocket(`${proto}//${location.host}/api2/json${websocket}?${qs}`, ['binary']);
        ws.binaryType = 'arraybuffer';
        let loggedIn = false;
        const decoder = new TextDecoder();
        ws.onopen = () => ws?.send(`${tp.user}:${tp.ticket}\n`);
        ws.onmessage = (ev) => {
          const bytes = typeof ev.data === 'string' ? encoder.encode(ev.data) : new Uint8Array(ev.data as ArrayBuffer);
          if (!loggedIn) {
            const text = decoder.decode(bytes);
            if (text.startsWith('OK')) {
              loggedIn = true;
              setState('connected');
              sendSize();
              term.focus();
              if (bytes.length > 2) term.write(bytes.slice(2));
              ping = window.setInterval(() => send('2'), PING_MS);
              return;
            }
            term.write(bytes);
            return;
          }
          term.write(bytes);
        };
        ws.onclose = (ev) => {
          window.clearInterval(ping);
          if (disposed) return;
          setState('closed');
          if (!loggedIn) setError(`connection closed (${ev.code}${ev.reason ? ': ' + ev.reason : ''})`);
        };
        ws.onerror = () => undefined; // onclose reports it
      } catch (err) {
        if (!disposed) {
          setError(errorMessage(err));
          setState('closed');
        }
      }
    })();

    const onData = term.onData(sendInput);
    const onResize = term.onResize(sendSize);
    const ro = new ResizeObserver(() => {
      try {
        fit.fit();
      } catch {
        /* not visible */
      }
    });
    ro.observe(el);
    return () => {
      disposed = true;
      window.clearInterval(ping);
      ro.disconnect();
      onData.dispose();
      onResize.dispose();
      ws?.close();
      term.dispose();
    };
  }, [termproxy, websocket, params, attempt]);

  return (
    <div className="pyxis-console">
      {error && <Alert variant="danger" isInline title={`Console: ${error}`} />}
      {state === 'closed' && (
        <div className="pyxis-toolbar">
          <Alert variant="info" isInline isPlain title="Disconnected" />
          <Button size="sm" onClick={() => setAttempt((a) => a + 1)}>
            Reconnect
          </Button>
        </div>
      )}
      <div ref={box} className="pyxis-terminal" data-testid="terminal" data-state={state} />
    </div>
  );
}

export default Terminal;
