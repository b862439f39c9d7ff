'use client';
// The time series, drawn by uPlot (small: ~23 KB gzipped). Hourly points are placed and labelled in
// the site's timezone; daily points are local dates. The tooltip is text, set with textContent.
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import { formatNumber } from '../lib/format';

export interface ChartPoint {
  /** Epoch seconds of the point's start. */
  x: number;
  y: number;
  label: string;
}

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

export function TimeChart({ points, metricLabel, interval, timeZone }: { points: ChartPoint[]; metricLabel: string; interval: 'hour' | 'day'; timeZone: string }) {
  const box = useRef<HTMLDivElement>(null);
  const tip = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const el = box.current;
    if (!el || points.length === 0) return;
    let plot: uPlot | undefined;
    const tz = interval === 'hour' ? timeZone : 'UTC';
    const build = () => {
      plot?.destroy();
      const line = cssVar('--chart-line', '#2563eb');
      const fill = cssVar('--chart-fill', 'rgba(37,99,235,0.12)');
      const grid = cssVar('--chart-grid', 'rgba(0,0,0,0.07)');
      const text = cssVar('--muted', '#555');
      const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
      const opts: uPlot.Options = {
        width: Math.max(280, el.clientWidth),
        height: 240,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), tz),
        legend: { show: false },
        cursor: { drag: { x: false, y: false }, points: { size: 8 } },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(4, Math.ceil(max * 1.15))] } },
        axes: [
          interval === 'hour'
            ? { ...axis, values: '{HH}:{mm}' }
            : // Whole days only: no ticks between two dates.
              { ...axis, values: '{D} {MMM}', incrs: [86400, 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400, 91 * 86400] },
          { ...axis, size: 50, values: (_u, vals) => vals.map((v) => (Number.isInteger(v) ? formatNumber(v) : '')) },
        ],
        series: [{}, { label: metricLabel, stroke: line, width: 2, fill, points: { show: points.length <= 48 } }],
        hooks: {
          setCursor: [
            (u) => {
              const t = tip.current;
              if (!t) return;
              const i = u.cursor.idx;
              if (i === null || i === undefined || u.cursor.left === undefined || u.cursor.left < 0) {
                t.hidden = true;
                return;
              }
              const p = points[i]!;
              t.textContent = `${p.label}: ${formatNumber(p.y)} ${metricLabel.toLowerCase()}`;
              t.hidden = false;
              const left = Math.min(u.over.clientWidth - t.offsetWidth, Math.max(0, u.cursor.left! - t.offsetWidth / 2));
              t.style.left = `${left + u.over.offsetLeft}px`;
              t.style.top = `${Math.max(0, (u.cursor.top ?? 0) - 44)}px`;
            },
          ],
        },
      };
      plot = new uPlot(opts, [points.map((p) => p.x), points.map((p) => p.y)], el);
    };
    build();
    const resize = new ResizeObserver(() => plot?.setSize({ width: Math.max(280, el.clientWidth), height: 240 }));
    resize.observe(el);
    const scheme = window.matchMedia('(prefers-color-scheme: dark)');
    scheme.addEventListener('change', build);
    return () => {
      resize.disconnect();
      scheme.removeEventListener('change', build);
      plot?.destroy();
    };
  }, [points, metricLabel, interval, timeZone]);

  const total = points.reduce((n, p) => n + p.y, 0);
  return (
    <div className="chart" data-testid="chart">
      <div ref={box} role="img" aria-label={`${metricLabel} by ${interval}, ${points.length} points, ${formatNumber(total)} in total`} />
      <div ref={tip} className="chart-tip" hidden data-testid="chart-tip" />
      {points.length === 0 && <p className="unavailable">No data for the chart.</p>}
    </div>
  );
}
