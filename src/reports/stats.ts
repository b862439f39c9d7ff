// Statistics answers, assembled from rollups only (never a scan of raw events). The spec's fields
// come first and keep their meaning; visits and the visit metrics are added next to them.
import { dimensionByName } from '../core/dimensions.js';
import { DAY, HOUR as HOUR_GRAIN } from '../core/plan.js';
import type { Site } from '../core/site.js';
import { HOUR, addDays, dayNumber, dayOfNumber, dayStart, hourStart, toLocalIso } from '../core/time.js';
import type { BucketCounts, Counts, Period, StatsReader, Summary } from '../store/port.js';

export const TOP_PATHS = 10;
const PAGE = dimensionByName('page')!.id;

export interface PathViews {
  path: string;
  views: number;
}

/** Visit metrics, as the README defines them. */
export interface VisitMetrics {
  visits: number;
  /** Bounces ÷ visits × 100, rounded (0 without visits). */
  bounce_rate: number;
  /** Mean visit duration in seconds, rounded. */
  visit_duration: number;
  /** Page views ÷ visits, rounded to 2 decimals. */
  views_per_visit: number;
}

export function visitMetrics(c: Counts): VisitMetrics {
  const v = c.visits;
  return {
    visits: v,
    bounce_rate: v > 0 ? Math.round((c.bounces / v) * 100) : 0,
    visit_duration: v > 0 ? Math.round(c.durationMs / v / 1000) : 0,
    views_per_visit: v > 0 ? Math.round((c.pageviews / v) * 100) / 100 : 0,
  };
}

interface Common extends VisitMetrics {
  site_id: string;
  total_views: number;
  unique_users_count: number;
  top_paths: PathViews[];
  /** Events accepted but not counted in the period, per reason (`bot`). */
  ignored: Record<string, number>;
}

async function common(store: StatsReader, site: Site, period: Period): Promise<[Common, Summary]> {
  const [summary, top] = await Promise.all([
    store.summary(site.site_id, period),
    store.breakdown(site.site_id, period, { dim: PAGE, scope: [], limit: TOP_PATHS, order: 'pageviews', withVisitors: false }),
  ]);
  const c: Common = {
    site_id: site.site_id,
    total_views: summary.pageviews,
    unique_users_count: summary.visitors,
    top_paths: top.filter((r) => r.pageviews > 0).map((r) => ({ path: r.value!, views: r.pageviews })),
    ...visitMetrics(summary),
    ignored: summary.ignored,
  };
  return [c, summary];
}

/** The spec's answer for one local day, with the visit metrics. */
export async function dayReport(store: StatsReader, site: Site, date: string) {
  const d = dayNumber(date);
  const [c] = await common(store, site, { grain: DAY, from: d, to: d + 1 });
  const { site_id, ...rest } = c;
  return { site_id, date, ...rest };
}

export interface SeriesPoint {
  date?: string;
  hour?: string;
  views: number;
  unique_users: number;
  visits: number;
}

const point = (b: BucketCounts | undefined) => ({ views: b?.pageviews ?? 0, unique_users: b?.visitors ?? 0, visits: b?.visits ?? 0 });

function hourlySeries(summary: Summary, from: number, to: number, timeZone: string): SeriesPoint[] {
  const rows = new Map(summary.series.map((b) => [b.bucket, b]));
  const points: SeriesPoint[] = [];
  for (let h = from; h < to; h = hourStart(h + HOUR, timeZone)) points.push({ hour: toLocalIso(h, timeZone), ...point(rows.get(h)) });
  return points;
}

/** The hours of "the last 24 hours" ending at `end`: from the local hour that contained end − 24 h. */
export function last24hPeriod(site: Site, end: number): Period {
  return { grain: HOUR_GRAIN, from: hourStart(end - 24 * HOUR, site.timezone), to: hourStart(end, site.timezone) + HOUR };
}

/**
 * The rolling last 24 hours, as a sum of hourly rollups: from the start of the local hour that
 * contained `end - 24h` up to `end` (between 24 and 25 hours; `period` says which), with an hourly series.
 */
export async function last24hReport(store: StatsReader, site: Site, end: number) {
  const period = last24hPeriod(site, end);
  const [c, summary] = await common(store, site, period);
  const { site_id, ...rest } = c;
  return {
    site_id,
    period: { from: toLocalIso(period.from, site.timezone), to: toLocalIso(end, site.timezone), timezone: site.timezone },
    ...rest,
    series: hourlySeries(summary, period.from, period.to, site.timezone),
  };
}

export type Granularity = 'day' | 'hour';

/** Local days `from`..`to` (both included) as a period of days or of hours. */
export function rangePeriod(site: Site, from: string, to: string, granularity: Granularity): Period {
  return granularity === 'hour'
    ? { grain: HOUR_GRAIN, from: dayStart(from, site.timezone), to: dayStart(addDays(to, 1), site.timezone) }
    : { grain: DAY, from: dayNumber(from), to: dayNumber(to) + 1 };
}

/** A range of local days, both included, with exact uniques over the whole range. */
export async function rangeReport(store: StatsReader, site: Site, from: string, to: string, granularity: Granularity) {
  const period = rangePeriod(site, from, to, granularity);
  const [c, summary] = await common(store, site, period);
  const { site_id, ...rest } = c;
  let series: SeriesPoint[];
  if (granularity === 'hour') series = hourlySeries(summary, period.from, period.to, site.timezone);
  else {
    const rows = new Map(summary.series.map((b) => [b.bucket, b]));
    series = [];
    for (let d = period.from; d < period.to; d++) series.push({ date: dayOfNumber(d), ...point(rows.get(d)) });
  }
  return { site_id, from, to, timezone: site.timezone, granularity, ...rest, series };
}
