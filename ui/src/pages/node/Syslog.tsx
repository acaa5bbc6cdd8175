// System log viewer: the newest lines of /nodes/{node}/syslog (paged by start/limit;
// `total` tells where the end is), refreshed while following, with a text filter and
// since/until (YYYY-MM-DD[ HH:MM[:SS]]).

import { Button, Checkbox, SearchInput, TextInput } from '@patternfly/react-core';
import { useEffect, useRef, useState } from 'react';
import { requestEnvelope, seg } from '@/api';
import { ErrorAlert } from '@/components/ErrorAlert';
import type { TabProps } from '@/registry/registry';

interface Line {
  n: number;
  t: string;
}

const LIMIT = 1000;
const POLL_MS = 3000;

export default function NodeSyslog({ obj }: TabProps) {
  const [follow, setFollow] = useState(true);
  const [filter, setFilter] = useState('');
  const [since, setSince] = useState('');
  const [until, setUntil] = useState('');
  const [applied, setApplied] = useState<{ since?: string; until?: string }>({});
  const [lines, setLines] = useState<Line[]>([]);
  const [error, setError] = useState<unknown>(undefined);
  const [tick, setTick] = useState(0);
  const box = useRef<HTMLPreElement>(null);
  const path = `/nodes/${seg(obj.node ?? '')}/syslog`;

  useEffect(() => {
    const ctl = new AbortController();
    const range = { since: applied.since || undefined, until: applied.until || undefined };
    (async () => {
      try {
        const head = await requestEnvelope<Line[]>('GET', path, { ...range, start: 0, limit: 1 }, { signal: ctl.signal });
        const total = head.total ?? 0;
        const page = await requestEnvelope<Line[]>(
          'GET',
          path,
          { ...range, start: Math.max(0, total - LIMIT), limit: LIMIT },
          { signal: ctl.signal },
        );
        setLines(page.data ?? []);
        setError(undefined);
      } catch (err) {
        if (!(err instanceof DOMException)) setError(err);
      }
    })();
    return () => ctl.abort();
  }, [path, applied, tick]);

  useEffect(() => {
    if (!follow) return;
    const id = window.setInterval(() => !document.hidden && setTick((t) => t + 1), POLL_MS);
    return () => window.clearInterval(id);
  }, [follow]);

  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [lines, follow]);

  const shown = filter ? lines.filter((l) => l.t.toLowerCase().includes(filter.toLowerCase())) : lines;
  return (
    <div>
      <div className="pyxis-toolbar">
        <SearchInput placeholder="Filter" value={filter} onChange={(_e, v) => setFilter(v)} onClear={() => setFilter('')} style={{ width: 220 }} />
        <TextInput aria-label="Since" placeholder="since YYYY-MM-DD HH:MM" value={since} onChange={(_e, v) => setSince(v)} style={{ width: 200 }} />
        <TextInput aria-label="Until" placeholder="until YYYY-MM-DD HH:MM" value={until} onChange={(_e, v) => setUntil(v)} style={{ width: 200 }} />
        <Button size="sm" variant="secondary" onClick={() => setApplied({ since: since.trim(), until: until.trim() })}>
          Update
        </Button>
        <span className="pyxis-spacer" />
        <Checkbox id="syslog-follow" label="Follow" isChecked={follow} onChange={(_e, v) => setFollow(v)} />
      </div>
      <ErrorAlert error={error} />
      <pre ref={box} className="pyxis-syslog" data-testid="syslog">
        {shown.map((l) => l.t).join('\n')}
      </pre>
    </div>
  );
}
