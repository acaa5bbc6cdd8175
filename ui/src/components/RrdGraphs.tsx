// Metric graphs over an rrddata endpoint (uPlot). Import lazily: uPlot stays out of the
// main chunk. Refreshes every `interval` ms; the timeframe selector is shared.

import { FormSelect, FormSelectOption, Card, CardBody, CardTitle } from '@patternfly/react-core';
import { useEffect, useRef, useState } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { RrdPoint } from '@/api';
import { useApi } from '@/hooks/useApi';
import { ErrorAlert } from './ErrorAlert';
import { formatBytes } from './format';

export interface Series {
  key: string;
  label: string;
  /** scale a value before plotting (e.g. cpu fraction -> percent) */
  map?: (v: number, row: RrdPoint) => number;
  color: string;
}

export interface GraphDef {
  title: string;
  series: Series[];
  unit: 'percent' | 'bytes' | 'bytes/s' | 'number';
}

const TIMEFRAMES = [
  ['hour', 'Hour (average)'],
  ['day', 'Day (average)'],
  ['week', 'Week (average)'],
  ['month', 'Month (average)'],
  ['year', 'Year (average)'],
] as const;

function fmt(unit: GraphDef['unit'], v: number | null): string {
  if (v === null || v === undefined) return '-';
  switch (unit) {
    case 'percent':
      return `${v.toFixed(1)}%`;
    case 'bytes':
      return formatBytes(v);
    case 'bytes/s':
      return `${formatBytes(v)}/s`;
    default:
      return v.toFixed(2);
  }
}

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

function Graph({ def, rows }: { def: GraphDef; rows: RrdPoint[] }) {
  const ref = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const [theme, setTheme] = useState(0);

  useEffect(() => {
    const on = () => setTheme((t) => t + 1);
    window.addEventListener('pyxis-theme', on);
    return () => window.removeEventListener('pyxis-theme', on);
  }, []);

  const data: uPlot.AlignedData = [
    rows.map((r) => r.time),
    ...def.series.map((s) =>
      rows.map((r) => {
        const v = r[s.key];
        return v === undefined || v === null ? null : s.map ? s.map(v, r) : v;
      }),
    ),
  ];

  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const axisColor = cssVar('--pf-v5-global--Color--200', '#6a6e73');
    const grid = cssVar('--pf-v5-global--BorderColor--100', '#d2d2d2');
    const opts: uPlot.Options = {
      width: Math.max(300, el.clientWidth),
      height: 180,
      series: [
        {},
        ...def.series.map((s) => ({
          label: s.label,
          stroke: s.color,
          fill: s.color + '22',
          width: 1.5,
          value: (_u: uPlot, v: number | null) => fmt(def.unit, v),
        })),
      ],
      axes: [
        { stroke: axisColor, grid: { stroke: grid, width: 1 } },
        { stroke: axisColor, grid: { stroke: grid, width: 1 }, size: 70, values: (_u, ticks) => ticks.map((t) => fmt(def.unit, t)) },
      ],
      scales: { y: { range: (_u, min, max) => [Math.min(0, min), def.unit === 'percent' ? Math.max(100, max) : Math.max(max, 1)] } },
    };
    plot.current?.destroy();
    plot.current = new uPlot(opts, data, el);
    const ro = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(300, el.clientWidth), height: 180 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // the plot is rebuilt when the definition or theme changes; data updates below
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [def, theme]);

  useEffect(() => {
    plot.current?.setData(data);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [rows]);

  return (
    <Card isCompact>
      <CardTitle>{def.title}</CardTitle>
      <CardBody>
        <div ref={ref} className="pyxis-graph" data-testid={`graph-${def.title}`} />
      </CardBody>
    </Card>
  );
}

export function RrdGraphs({ path, graphs, interval = 10000 }: { path: string; graphs: GraphDef[]; interval?: number }) {
  const [timeframe, setTimeframe] = useState('hour');
  const { data, error } = useApi<RrdPoint[]>(path, { timeframe, cf: 'AVERAGE' }, { interval });
  return (
    <div>
      <div className="pyxis-toolbar">
        <span className="pyxis-spacer" />
        <div style={{ width: 200 }}>
          <FormSelect aria-label="Timeframe" value={timeframe} onChange={(_e, v) => setTimeframe(v)}>
            {TIMEFRAMES.map(([v, l]) => (
              <FormSelectOption key={v} value={v} label={l} />
            ))}
          </FormSelect>
        </div>
      </div>
      <ErrorAlert error={error} />
      <div className="pyxis-grid">
        {graphs.map((g) => (
          <Graph key={g.title} def={g} rows={data ?? []} />
        ))}
      </div>
    </div>
  );
}

export default RrdGraphs;
