'use client';
// One site's dashboard: period (in the URL), the top row with changes against the previous period
// of the same length, the time series, the breakdown panels, realtime visitors, the empty state.
import { useCallback, useEffect, useLayoutEffect, useMemo, useState } from 'react';
import { api, get, isSharePage, query, type BreakdownRow, type RealtimeAnswer, type SiteInfo, type StatsAnswer } from '../lib/api';
import { countryName, flagEmoji } from '../lib/countries';
import { change, formatDuration, formatNumber } from '../lib/format';
import { addDays, describeDays, isDay, localDate, periodParams, PERIODS, resolvePeriod, type Interval, type PeriodKey, type PeriodQuery } from '../lib/periods';
import { useLocation, useNavigate } from '../lib/url-state';
import { CopyButton, snippet } from './Common';
import { noneText, Panel, type Tab } from './Panel';
import { NEW_SITE_KEY } from './Sites';
import { TimeChart, type ChartPoint } from './TimeChart';

type Metric = 'visitors' | 'pageviews' | 'visits';

const statsUrl = (siteId: string, q: PeriodQuery) => `/api/stats?${query({ site_id: siteId, ...periodParams(q) })}`;

function pointsOf(answer: StatsAnswer | undefined, metric: Metric, sinceIso?: string): ChartPoint[] {
  const since = sinceIso ? Date.parse(sinceIso) : undefined;
  const out: ChartPoint[] = [];
  for (const p of answer?.series ?? []) {
    const y = metric === 'visitors' ? p.unique_users : metric === 'pageviews' ? p.views : (p.visits ?? 0);
    if (p.hour) {
      const t = Date.parse(p.hour);
      if (since !== undefined && (t < since || t > Date.now())) continue;
      out.push({ x: t / 1000, y, label: p.hour.slice(0, 16).replace('T', ' ') });
    } else if (p.date) {
      out.push({ x: Date.parse(`${p.date}T00:00:00Z`) / 1000, y, label: p.date });
    }
  }
  return out;
}

export function Dashboard({ site, admin }: { site: SiteInfo; admin: boolean }) {
  const { params } = useLocation();
  const navigate = useNavigate();
  const key = (PERIODS.some((p) => p.key === params.get('period')) ? params.get('period') : '7d') as PeriodKey;
  const customFrom = params.get('from') ?? undefined;
  const customTo = params.get('to') ?? undefined;
  const wantedInterval = (params.get('interval') as Interval | null) ?? undefined;
  const metric = (['visitors', 'pageviews', 'visits'].includes(params.get('metric') ?? '') ? params.get('metric') : 'visitors') as Metric;

  const [now, setNow] = useState(() => Date.now());
  const period = useMemo(
    () => resolvePeriod(key, site.timezone, now, { from: customFrom, to: customTo }, wantedInterval),
    [key, site.timezone, now, customFrom, customTo, wantedInterval],
  );
  const [current, setCurrent] = useState<StatsAnswer>();
  const [previous, setPrevious] = useState<StatsAnswer>();
  const [chart, setChart] = useState<StatsAnswer>();
  const [error, setError] = useState<string>();
  const [empty, setEmpty] = useState<boolean>();
  const [reload, setReload] = useState(0);

  useEffect(() => setNow(Date.now()), [key, customFrom, customTo, reload]);

  // A layout effect: it runs before every passive effect, so the top row's request leaves before the
  // panels' (children's effects run first) and is not queued behind them on a one-process server.
  useLayoutEffect(() => {
    let live = true;
    setError(undefined);
    void (async () => {
      const cur = await get<StatsAnswer>(statsUrl(site.site_id, period.current));
      if (!live) return;
      if (!cur.ok) {
        setError(cur.message ?? cur.error);
        return;
      }
      setCurrent(cur.data);
      // The last 24 hours: the previous 24 hours end where these begin (`before`); the chart
      // comes from the hourly range over the two local days, cut to the period.
      const prevQuery: PeriodQuery | undefined =
        period.previous ?? (cur.data.period ? { last24h: true, before: new Date(Date.parse(cur.data.period.from)).toISOString() } : undefined);
      const [prev, ch] = await Promise.all([
        prevQuery ? get<StatsAnswer>(statsUrl(site.site_id, prevQuery)) : undefined,
        period.key === '24h' ? get<StatsAnswer>(statsUrl(site.site_id, period.chart)) : undefined,
      ]);
      if (!live) return;
      // A server without `before` answers the same 24 hours again: then there is nothing to compare.
      const comparable = prev?.ok && !(period.key === '24h' && prev.data.period?.from === cur.data.period?.from);
      setPrevious(comparable && prev?.ok ? prev.data : undefined);
      setChart(period.key === '24h' ? (cur.data.series ? cur.data : ch?.ok ? ch.data : undefined) : cur.data);
    })();
    return () => {
      live = false;
    };
  }, [site.site_id, period, reload]);

  // Empty state: nothing at all in the last 30 days.
  useEffect(() => {
    let live = true;
    const today = localDate(Date.now(), site.timezone);
    void get<StatsAnswer>(`/api/stats?${query({ site_id: site.site_id, from: addDays(today, -29), to: today })}`).then((res) => {
      if (live && res.ok) setEmpty(res.data.total_views === 0 && res.data.unique_users_count === 0);
    });
    return () => {
      live = false;
    };
  }, [site.site_id, site.timezone, reload]);

  const periodQ = useMemo(() => {
    const q = periodParams(period.current);
    delete q.granularity;
    return q;
  }, [period]);

  const onPeriod = (p: PeriodKey) => {
    if (p === 'custom') {
      const f = customFrom && isDay(customFrom) ? customFrom : period.from;
      const t = customTo && isDay(customTo) ? customTo : period.to;
      navigate({ period: 'custom', from: f, to: t, interval: undefined });
    } else navigate({ period: p, from: undefined, to: undefined, interval: undefined });
  };

  const visitors = current?.unique_users_count ?? 0;
  const fileBase = `${site.site_id}-${period.from}-${period.to}`;
  const topPathsFallback = useCallback(
    (): BreakdownRow[] | undefined => current?.top_paths.map((p) => ({ value: p.path, visitors: 0, pageviews: p.views })),
    [current],
  );

  if (empty) return <EmptyState site={site} onFirstEvent={() => setReload((n) => n + 1)} />;

  const metricLabel = metric === 'visitors' ? 'Visitors' : metric === 'pageviews' ? 'Pageviews' : 'Visits';
  const points = pointsOf(chart, metric, period.key === '24h' ? current?.period?.from : undefined);
  const bots = current?.ignored?.bot;

  return (
    <div className="stack">
      <div className="periods" role="group" aria-label="Period">
        <label htmlFor="period" className="m0">
          <span className="muted small">Period</span>
        </label>
        <select id="period" value={key} onChange={(e) => onPeriod(e.target.value as PeriodKey)} data-testid="period">
          {PERIODS.map((p) => (
            <option key={p.key} value={p.key}>
              {p.label}
            </option>
          ))}
        </select>
        {key === 'custom' && (
          <>
            <label htmlFor="from" className="m0 small muted">
              From
            </label>
            <input id="from" type="date" value={period.from} max={period.to} onChange={(e) => isDay(e.target.value) && navigate({ from: e.target.value })} />
            <label htmlFor="to" className="m0 small muted">
              to
            </label>
            <input id="to" type="date" value={period.to} min={period.from} onChange={(e) => isDay(e.target.value) && navigate({ to: e.target.value })} />
          </>
        )}
        <span className="muted small" data-testid="period-text">
          {key === '24h' && current?.period ? `since ${current.period.from.slice(0, 16).replace('T', ' ')}` : describeDays(period.from, period.to)} · {site.timezone}
        </span>
        <span className="spacer" />
        <Realtime siteId={site.site_id} />
      </div>

      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}

      <Kpis current={current} previous={previous} metric={metric} onMetric={(m) => navigate({ metric: m === 'visitors' ? undefined : m })} />

      <section className="card" aria-label="Time series">
        <div className="row">
          <h2>{metricLabel}</h2>
          <span className="spacer" />
          {period.intervals.length > 1 && (
            <div className="tabs" role="group" aria-label="Interval">
              {period.intervals.map((i) => (
                <button key={i} type="button" aria-pressed={i === period.interval} onClick={() => navigate({ interval: i })}>
                  {i === 'hour' ? 'Hours' : 'Days'}
                </button>
              ))}
            </div>
          )}
        </div>
        {chart ? <TimeChart points={points} metricLabel={metricLabel} interval={period.key === '24h' ? 'hour' : period.interval} timeZone={site.timezone} /> : <div className="chart" />}
        {bots !== undefined && bots > 0 && (
          <p className="muted small m0" data-testid="bots">
            {formatNumber(bots)} bot {bots === 1 ? 'hit' : 'hits'} filtered in this period.
          </p>
        )}
      </section>

      <div className="grid2">
        <Panel
          title="Pages"
          testId="panel-pages"
          siteId={site.site_id}
          period={periodQ}
          total={visitors}
          fallbackTotal={current?.total_views}
          fileBase={fileBase}
          revision={current}
          tabs={[
            { key: 'page', label: 'Top pages', dimension: 'page', column: 'Page', fallback: topPathsFallback },
            { key: 'entry_page', label: 'Entry pages', dimension: 'entry_page', column: 'Entry page' },
            { key: 'exit_page', label: 'Exit pages', dimension: 'exit_page', column: 'Exit page' },
          ]}
        />
        <Panel
          title="Sources"
          testId="panel-sources"
          siteId={site.site_id}
          period={periodQ}
          total={visitors}
          fileBase={fileBase}
          tabs={[
            { key: 'source', label: 'Sources', dimension: 'source', column: 'Source', text: directText },
            { key: 'referrer', label: 'Referrers', dimension: 'referrer', column: 'Referrer', text: directText },
            { key: 'utm_source', label: 'UTM source', dimension: 'utm_source', column: 'UTM source' },
            { key: 'utm_medium', label: 'UTM medium', dimension: 'utm_medium', column: 'UTM medium' },
            { key: 'utm_campaign', label: 'UTM campaign', dimension: 'utm_campaign', column: 'UTM campaign' },
          ]}
        />
        <Panel
          title="Locations"
          testId="panel-locations"
          siteId={site.site_id}
          period={periodQ}
          total={visitors}
          fileBase={fileBase}
          tabs={[
            { key: 'country', label: 'Countries', dimension: 'country', column: 'Country', text: countryName, render: (v) => (flagEmoji(v) ? `${flagEmoji(v)}\u2002${countryName(v)}` : countryName(v)) },
            { key: 'language', label: 'Languages', dimension: 'language', column: 'Language' },
          ]}
        />
        <Panel
          title="Devices"
          testId="panel-devices"
          siteId={site.site_id}
          period={periodQ}
          total={visitors}
          fileBase={fileBase}
          tabs={[
            { key: 'browser', label: 'Browsers', dimension: 'browser', column: 'Browser' },
            { key: 'os', label: 'Operating systems', dimension: 'os', column: 'OS' },
            { key: 'device', label: 'Devices', dimension: 'device', column: 'Device' },
            { key: 'screen', label: 'Screens', dimension: 'screen', column: 'Screen' },
          ]}
        />
        <EventsPanel siteId={site.site_id} period={periodQ} total={visitors} fileBase={fileBase} />
      </div>
      {admin && !isSharePage() && <ShareControl site={site} />}
    </div>
  );
}

const directText = (v: string | null) => (v === null || v === '' ? 'Direct' : v);

/** Custom events; click one to see its properties, then a property to see its values. */
function EventsPanel(props: { siteId: string; period: Record<string, string>; total: number; fileBase: string }) {
  const [event, setEvent] = useState<string>();
  const [property, setProperty] = useState<string>();
  if (event === undefined) {
    return (
      <Panel
        title="Custom events"
        testId="panel-events"
        {...props}
        tabs={[{ key: 'event', label: 'Events', dimension: 'event', column: 'Event', onSelect: (v) => v !== null && setEvent(v) }]}
      />
    );
  }
  const back = (
    <div className="row">
      <button type="button" className="link" onClick={() => (setEvent(undefined), setProperty(undefined))}>
        ← All events
      </button>
      {property !== undefined && (
        <button type="button" className="link" onClick={() => setProperty(undefined)}>
          ← Properties of {event}
        </button>
      )}
    </div>
  );
  return (
    <Panel
      title={property === undefined ? `Event: ${event}` : `Event: ${event} · ${property}`}
      testId="panel-events"
      {...props}
      fileBase={`${props.fileBase}-${event}${property === undefined ? '' : `-${property}`}`}
      tabs={
        property === undefined
          ? [{ key: `keys-${event}`, label: 'Properties', dimension: 'property_key', column: 'Property', extra: { event }, onSelect: (v) => v !== null && setProperty(v) }]
          : [{ key: `values-${event}-${property}`, label: property, dimension: 'property', column: property, extra: { event, property } }]
      }
    >
      {back}
    </Panel>
  );
}

function Kpis({ current, previous, metric, onMetric }: { current?: StatsAnswer; previous?: StatsAnswer; metric: Metric; onMetric: (m: Metric) => void }) {
  const items: { key: string; label: string; value?: number; prev?: number; format: (n: number) => string; lowerIsBetter?: boolean; metric?: Metric }[] = [
    { key: 'visitors', label: 'Visitors', value: current?.unique_users_count, prev: previous?.unique_users_count, format: formatNumber, metric: 'visitors' },
    { key: 'visits', label: 'Visits', value: current?.visits, prev: previous?.visits, format: formatNumber, metric: current?.visits !== undefined ? 'visits' : undefined },
    { key: 'pageviews', label: 'Pageviews', value: current?.total_views, prev: previous?.total_views, format: formatNumber, metric: 'pageviews' },
    { key: 'bounce', label: 'Bounce rate', value: current?.bounce_rate, prev: previous?.bounce_rate, format: (n) => `${Math.round(n)}%`, lowerIsBetter: true },
    { key: 'duration', label: 'Visit duration', value: current?.visit_duration, prev: previous?.visit_duration, format: formatDuration },
  ];
  return (
    <section className="card kpis" aria-label="Summary" data-testid="kpis">
      {items.map((it) => {
        const delta = change(it.value, it.prev);
        const good = delta !== undefined && delta !== 0 && (delta > 0) !== !!it.lowerIsBetter;
        const body = (
          <>
            <div className="label">{it.label}</div>
            <div className="value" data-testid={`kpi-${it.key}`}>
              {current === undefined ? '…' : it.value === undefined ? '—' : it.format(it.value)}
            </div>
            <div className={`delta ${delta === undefined || delta === 0 ? 'muted' : good ? 'up' : 'down'}`}>
              {current !== undefined && it.value === undefined
                ? 'not available yet'
                : delta === undefined
                  ? it.prev === 0 && it.value
                    ? 'none in the previous period'
                    : 'no comparison'
                  : `${delta > 0 ? '↑' : delta < 0 ? '↓' : '±'} ${Math.abs(delta)}% vs previous`}
            </div>
          </>
        );
        return it.metric ? (
          <button key={it.key} type="button" className="kpi" aria-pressed={metric === it.metric} onClick={() => onMetric(it.metric!)}>
            {body}
          </button>
        ) : (
          <div key={it.key} className="kpi">
            {body}
          </div>
        );
      })}
    </section>
  );
}

function Realtime({ siteId }: { siteId: string }) {
  const [state, setState] = useState<{ visitors: number } | 'missing' | undefined>();
  useEffect(() => {
    let live = true;
    const tick = async () => {
      if (document.hidden) return;
      const res = await get<RealtimeAnswer>(`/api/stats/realtime?${query({ site_id: siteId })}`);
      if (!live) return;
      if (res.ok) setState({ visitors: res.data.visitors });
      else if (res.missing) setState('missing');
    };
    void tick();
    const timer = setInterval(() => void tick(), 5000);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [siteId]);
  if (state === undefined) return null;
  if (state === 'missing') {
    return (
      <span className="muted small" data-testid="realtime">
        Realtime: not available on this server yet
      </span>
    );
  }
  return (
    <span className="realtime small" data-testid="realtime" aria-live="polite">
      <span className="dot" aria-hidden="true" />
      {formatNumber(state.visitors)} {state.visitors === 1 ? 'visitor' : 'visitors'} now
    </span>
  );
}

function EmptyState({ site, onFirstEvent }: { site: SiteInfo; onFirstEvent: () => void }) {
  const [apiKey, setApiKey] = useState<string>();
  useEffect(() => {
    setApiKey(sessionStorage.getItem(NEW_SITE_KEY(site.site_id)) ?? undefined);
  }, [site.site_id]);
  useEffect(() => {
    const timer = setInterval(async () => {
      const res = await get<StatsAnswer>(`/api/stats?${query({ site_id: site.site_id })}`);
      if (res.ok && (res.data.total_views > 0 || res.data.unique_users_count > 0)) onFirstEvent();
    }, 4000);
    return () => clearInterval(timer);
  }, [site.site_id, onFirstEvent]);
  const code = snippet(window.location.origin, site.site_id, apiKey ?? 'YOUR_API_KEY');
  return (
    <section className="card stack" aria-labelledby="empty-title" data-testid="empty">
      <h2 id="empty-title">Waiting for the first event…</h2>
      {isSharePage() ? (
        <p className="muted m0">This site has no statistics yet.</p>
      ) : (
        <>
          <p className="m0">
            Add this snippet to the <code>&lt;head&gt;</code> of every page of the site. This page updates by itself as soon as the first
            event arrives.
          </p>
          <pre className="snippet mono" data-testid="snippet">{code}</pre>
          <div className="row">
            <CopyButton text={code} label="Copy snippet" />
          </div>
          {!apiKey && (
            <p className="muted small m0">
              The API key was shown once, when the site was created. Rotate the keys on the site list to get a new one.
            </p>
          )}
          <p className="muted small m0">
            To check the install, open the site in a browser: the visit shows here within seconds. Events sent with <code>curl</code> to{' '}
            <code>POST /api/event</code> count too.
          </p>
        </>
      )}
    </section>
  );
}

function ShareControl({ site }: { site: SiteInfo }) {
  const [shared, setShared] = useState(!!site.shared);
  const [url, setUrl] = useState<string>();
  const [error, setError] = useState<string>();
  const on = async () => {
    const res = await api<{ url: string }>('POST', `/api/sites/${encodeURIComponent(site.site_id)}/share`);
    if (res.ok) {
      setShared(true);
      setUrl(res.data.url);
    } else setError(res.message ?? res.error);
  };
  const off = async () => {
    const res = await api('DELETE', `/api/sites/${encodeURIComponent(site.site_id)}/share`);
    if (res.ok) {
      setShared(false);
      setUrl(undefined);
    } else setError(res.message ?? res.error);
  };
  return (
    <section className="card stack" aria-labelledby="share-title" data-testid="share">
      <div className="row">
        <h2 id="share-title">Public link</h2>
        <span className="badge" data-testid="share-state">
          {shared ? 'on' : 'off'}
        </span>
      </div>
      <p className="muted small m0">
        A read-only link to this dashboard that works without logging in. Anyone with the link sees this site&apos;s statistics, nothing
        else.
      </p>
      {url && (
        <div className="row">
          <code className="mono" data-testid="share-url">
            {url}
          </code>
          <CopyButton text={url} />
        </div>
      )}
      {shared && !url && <p className="muted small m0">The link was shown when it was created. A new link ends the old one.</p>}
      {error && (
        <p className="error m0" role="alert">
          {error}
        </p>
      )}
      <div className="row">
        <button type="button" onClick={() => void on()}>
          {shared ? 'New link' : 'Turn on'}
        </button>
        {shared && (
          <button type="button" className="danger" onClick={() => void off()}>
            Turn off
          </button>
        )}
      </div>
    </section>
  );
}

export { noneText };
