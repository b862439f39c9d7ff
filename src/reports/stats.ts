// Statistics answers, assembled from rollups only (never a scan of raw events).
import type { Site } from '../core/site.js';
import { HOUR, addDays, dayStart, daysBetween, eachDay, hourStart, nextHour, toLocalIso } from '../core/time.js';
import type { AnalyticsStore, PathViews } from '../store/port.js';

export const TOP_PATHS = 10;

/** The spec's answer for one local day. */
export interface DayReport {
  site_id: string;
  date: string;
  total_views: number;
  unique_users_count: number;
  top_paths: PathViews[];
}

export async function dayReport(store: AnalyticsStore, site: Site, date: string): Promise<DayReport> {
  const days = { from: date, to: date };
  const [totals, top_paths] = await Promise.all([
    store.dailyTotals(site.site_id, date, date),
    store.topPaths(site.site_id, { days }, TOP_PATHS),
  ]);
  return {
    site_id: site.site_id,
    date,
    total_views: totals[0]?.views ?? 0,
    unique_users_count: totals[0]?.uniques ?? 0,
    top_paths,
  };
}

export interface Last24hReport {
  site_id: string;
  period: { from: string; to: string; timezone: string };
  total_views: number;
  unique_users_count: number;
  top_paths: PathViews[];
}

/**
 * The rolling last 24 hours, as a sum of hourly rollups: from the start of the local hour that
 * contained `now - 24h` up to `now` (between 24 and 25 hours; `period` says which).
 */
export async function last24hReport(store: AnalyticsStore, site: Site, now: number): Promise<Last24hReport> {
  const from = hourStart(now - 24 * HOUR, site.timezone);
  const hours = { from, to: hourStart(now, site.timezone) + HOUR };
  const [totals, unique_users_count, top_paths] = await Promise.all([
    store.hourlyTotals(site.site_id, hours.from, hours.to),
    store.uniqueVisitors(site.site_id, { hours }),
    store.topPaths(site.site_id, { hours }, TOP_PATHS),
  ]);
  return {
    site_id: site.site_id,
    period: { from: toLocalIso(from, site.timezone), to: toLocalIso(now, site.timezone), timezone: site.timezone },
    total_views: totals.reduce((n, t) => n + t.views, 0),
    unique_users_count,
    top_paths,
  };
}

export type Granularity = 'day' | 'hour';

export interface SeriesPoint {
  date?: string;
  hour?: string;
  views: number;
  unique_users: number;
}

export interface RangeReport {
  site_id: string;
  from: string;
  to: string;
  timezone: string;
  granularity: Granularity;
  total_views: number;
  unique_users_count: number;
  top_paths: PathViews[];
  series: SeriesPoint[];
}

/** A range of local days, both included, with exact uniques over the whole range. */
export async function rangeReport(
  store: AnalyticsStore,
  site: Site,
  from: string,
  to: string,
  granularity: Granularity,
): Promise<RangeReport> {
  const days = { from, to };
  const [daily, unique_users_count, top_paths, series] = await Promise.all([
    store.dailyTotals(site.site_id, from, to),
    from === to ? undefined : store.uniqueVisitors(site.site_id, { days }),
    store.topPaths(site.site_id, { days }, TOP_PATHS),
    granularity === 'hour' ? hourlySeries(store, site, from, to) : undefined,
  ]);
  const byDay = new Map(daily.map((d) => [d.day, d]));
  return {
    site_id: site.site_id,
    from,
    to,
    timezone: site.timezone,
    granularity,
    total_views: daily.reduce((n, d) => n + d.views, 0),
    unique_users_count: unique_users_count ?? daily[0]?.uniques ?? 0,
    top_paths,
    series:
      series ??
      eachDay(from, to).map((date) => ({ date, views: byDay.get(date)?.views ?? 0, unique_users: byDay.get(date)?.uniques ?? 0 })),
  };
}

async function hourlySeries(store: AnalyticsStore, site: Site, from: string, to: string): Promise<SeriesPoint[]> {
  const start = dayStart(from, site.timezone);
  const end = dayStart(addDays(to, 1), site.timezone);
  const rows = new Map((await store.hourlyTotals(site.site_id, start, end)).map((h) => [h.hour, h]));
  const points: SeriesPoint[] = [];
  // At most 25 points a day: the route bounds the days, nextHour always moves forward.
  for (let h = start; h < end && points.length < 25 * (daysBetween(from, to) + 1); h = nextHour(h, site.timezone)) {
    const row = rows.get(h);
    points.push({ hour: toLocalIso(h, site.timezone), views: row?.views ?? 0, unique_users: row?.uniques ?? 0 });
  }
  return points;
}
