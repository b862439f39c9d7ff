'use client';
// A breakdown panel: tabs, rows with a bar proportional to their share, "show more", CSV export.
// Rows come from GET /api/stats/breakdown; while that endpoint is missing the panel says so (or
// shows the tab's fallback, e.g. top pages from /api/stats). Values are rendered as text only.
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { get, query, type BreakdownAnswer, type BreakdownRow } from '../lib/api';
import { downloadCsv, toCsv } from '../lib/csv';
import { formatNumber } from '../lib/format';

export interface Tab {
  key: string;
  label: string;
  dimension: string;
  /** Extra query parameters (event, property). */
  extra?: Record<string, string>;
  /** Column header of the value. */
  column: string;
  /** How a value shows (text only). */
  render?: (value: string | null) => ReactNode;
  /** Text of a value in exports and labels. */
  text?: (value: string | null) => string;
  /** Rows to show when the breakdown endpoint does not exist on this server. */
  fallback?: () => BreakdownRow[] | undefined;
  /** Clicking a row (custom events: its properties). */
  onSelect?: (value: string | null) => void;
}

type Load = { state: 'loading' } | { state: 'ok'; rows: BreakdownRow[]; fallback: boolean } | { state: 'missing' } | { state: 'error'; message: string };

const PAGE = 10;
const MORE = 100;
const EXPORT = 1000;

export const noneText = (v: string | null) => (v === null || v === '' ? '(none)' : v);

export function Panel(props: {
  title: string;
  tabs: Tab[];
  siteId: string;
  period: Record<string, string>;
  /** The period's visitors: a bar's 100%. */
  total: number;
  /** The period's pageviews: a bar's 100% for fallback rows (which count pageviews). */
  fallbackTotal?: number;
  fileBase: string;
  children?: ReactNode;
  testId?: string;
  /** Changes when the data behind the fallbacks changed (a new stats answer). */
  revision?: unknown;
}) {
  const [tabKey, setTabKey] = useState(props.tabs[0]!.key);
  const tab = props.tabs.find((t) => t.key === tabKey) ?? props.tabs[0]!;
  const [limit, setLimit] = useState(PAGE);
  const [load, setLoad] = useState<Load>({ state: 'loading' });
  const periodKey = JSON.stringify(props.period);
  const extraKey = JSON.stringify(tab.extra ?? {});
  const viewKey = `${props.siteId}|${periodKey}|${tab.key}|${extraKey}|${limit}`;
  const loadedKey = useRef<string>(undefined);

  useEffect(() => {
    let live = true;
    // A refresh keeps the rows on screen until the new ones arrive (no flicker); a new tab or
    // period starts from "Loading…".
    setLoad((prev) => (prev.state === 'ok' && loadedKey.current === viewKey ? prev : { state: 'loading' }));
    const q = query({ site_id: props.siteId, dimension: tab.dimension, limit, ...props.period, ...tab.extra });
    void get<BreakdownAnswer>(`/api/stats/breakdown?${q}`).then((res) => {
      if (!live) return;
      loadedKey.current = viewKey;
      if (res.ok) setLoad({ state: 'ok', rows: res.data.results, fallback: false });
      else if (res.missing) {
        const rows = tab.fallback?.();
        setLoad(rows ? { state: 'ok', rows, fallback: true } : { state: 'missing' });
      } else setLoad({ state: 'error', message: res.message ?? res.error });
    });
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [props.siteId, periodKey, tab.key, tab.dimension, extraKey, limit, props.revision]);

  const text = tab.text ?? noneText;
  const rows = load.state === 'ok' ? load.rows : [];
  const metric = (r: BreakdownRow) => (load.state === 'ok' && load.fallback ? (r.pageviews ?? 0) : r.visitors);
  const hasPageviews = rows.some((r) => r.pageviews !== undefined);
  const hasEvents = rows.some((r) => r.events !== undefined);
  const fallback = load.state === 'ok' && load.fallback;

  async function exportCsv() {
    let all = rows;
    if (!fallback) {
      const q = query({ site_id: props.siteId, dimension: tab.dimension, limit: EXPORT, ...props.period, ...tab.extra });
      const res = await get<BreakdownAnswer>(`/api/stats/breakdown?${q}`);
      if (res.ok) all = res.data.results;
    }
    const header = [tab.column, ...(fallback ? [] : ['Visitors']), ...(all.some((r) => r.pageviews !== undefined) ? ['Pageviews'] : []), ...(all.some((r) => r.events !== undefined) ? ['Events'] : [])];
    const lines = all.map((r) => [
      text(r.value),
      ...(fallback ? [] : [r.visitors]),
      ...(all.some((x) => x.pageviews !== undefined) ? [r.pageviews ?? 0] : []),
      ...(all.some((x) => x.events !== undefined) ? [r.events ?? 0] : []),
    ]);
    downloadCsv(`${props.fileBase}-${tab.key}.csv`, toCsv(header, lines));
  }

  const id = `panel-${props.title.toLowerCase().replace(/\W+/g, '-')}`;
  return (
    <section className="card panel" aria-labelledby={`${id}-title`} data-testid={props.testId}>
      <div className="panel-head">
        <h2 id={`${id}-title`}>{props.title}</h2>
        <span className="spacer" />
        {props.tabs.length > 1 && (
          <div className="tabs" role="tablist" aria-label={`${props.title} views`}>
            {props.tabs.map((t) => (
              <button
                key={t.key}
                type="button"
                role="tab"
                id={`${id}-tab-${t.key}`}
                aria-selected={t.key === tab.key}
                aria-controls={`${id}-rows`}
                tabIndex={t.key === tab.key ? 0 : -1}
                onClick={() => {
                  setTabKey(t.key);
                  setLimit(PAGE);
                }}
                onKeyDown={(e) => {
                  if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
                  const i = props.tabs.findIndex((x) => x.key === tab.key);
                  const next = props.tabs[(i + (e.key === 'ArrowRight' ? 1 : props.tabs.length - 1)) % props.tabs.length]!;
                  setTabKey(next.key);
                  setLimit(PAGE);
                  document.getElementById(`${id}-tab-${next.key}`)?.focus();
                }}
              >
                {t.label}
              </button>
            ))}
          </div>
        )}
      </div>
      {props.children}
      <div id={`${id}-rows`} role={props.tabs.length > 1 ? 'tabpanel' : undefined} aria-labelledby={props.tabs.length > 1 ? `${id}-tab-${tab.key}` : undefined}>
        {load.state === 'loading' && <p className="muted small">Loading…</p>}
        {load.state === 'missing' && (
          <p className="unavailable" data-testid="unavailable">
            Not available on this server yet.
          </p>
        )}
        {load.state === 'error' && (
          <p className="error small" role="alert">
            {load.message}
          </p>
        )}
        {load.state === 'ok' && (
          <>
            <div className="rows-head" aria-hidden="true">
              <span className="label">{tab.column}</span>
              {!fallback && <span className="num">Visitors</span>}
              {(hasPageviews || fallback) && <span className="num">Pageviews</span>}
              {hasEvents && <span className="num">Events</span>}
            </div>
            {rows.length === 0 && <p className="muted small">Nothing in this period.</p>}
            <ul className="rows" data-testid="rows">
              {rows.slice(0, limit).map((r, i) => {
                const of = fallback ? (props.fallbackTotal ?? 0) : props.total;
                const share = of > 0 ? Math.min(1, metric(r) / of) : 0;
                const label = tab.render ? tab.render(r.value) : text(r.value);
                return (
                  <li key={`${r.value ?? '\u0000null'}-${i}`} className="rowline" data-value={r.value ?? ''}>
                    <span className="bar" style={{ width: `${(share * 100).toFixed(1)}%` }} />
                    {tab.onSelect ? (
                      <button type="button" className="label" onClick={() => tab.onSelect!(r.value)} title={text(r.value)}>
                        {label}
                      </button>
                    ) : (
                      <span className="label" title={text(r.value)}>
                        {label}
                      </span>
                    )}
                    {!fallback && <span className="num">{formatNumber(r.visitors)}</span>}
                    {(hasPageviews || fallback) && <span className="num">{formatNumber(r.pageviews ?? 0)}</span>}
                    {hasEvents && <span className="num">{formatNumber(r.events ?? 0)}</span>}
                  </li>
                );
              })}
            </ul>
            {fallback && <p className="muted small m0">Top {rows.length} pages by pageviews (breakdowns are not available on this server yet).</p>}
          </>
        )}
      </div>
      <div className="panel-foot">
        {!fallback && load.state === 'ok' && (rows.length >= limit || limit > PAGE) ? (
          <button type="button" className="link" onClick={() => setLimit(limit === PAGE ? MORE : PAGE)}>
            {limit === PAGE ? 'Show more' : 'Show fewer'}
          </button>
        ) : (
          <span />
        )}
        {load.state === 'ok' && rows.length > 0 && (
          <button type="button" className="link" onClick={() => void exportCsv()} aria-label={`Export CSV: ${props.title}, ${tab.label}`}>
            Export CSV
          </button>
        )}
      </div>
    </section>
  );
}
