// Periods of the dashboard, in the site's timezone, as API queries: the chosen period and the
// previous period of the same length (for the change figures).

export type PeriodKey = 'today' | 'yesterday' | '24h' | '7d' | '30d' | 'month' | 'lastmonth' | 'custom';

export const PERIODS: { key: PeriodKey; label: string }[] = [
  { key: 'today', label: 'Today' },
  { key: 'yesterday', label: 'Yesterday' },
  { key: '24h', label: 'Last 24 hours' },
  { key: '7d', label: 'Last 7 days' },
  { key: '30d', label: 'Last 30 days' },
  { key: 'month', label: 'This month' },
  { key: 'lastmonth', label: 'Last month' },
  { key: 'custom', label: 'Custom range' },
];

export type Interval = 'hour' | 'day';

/** What an API request for a period carries (besides site_id). */
export type PeriodQuery = { from: string; to: string; granularity: Interval } | { last24h: true; before?: string };

export interface ResolvedPeriod {
  key: PeriodKey;
  label: string;
  /** Local days covered (both included); for the last 24 hours, the two local days it touches. */
  from: string;
  to: string;
  current: PeriodQuery;
  /** For the chart of the last 24 hours: an hourly range over its days, cut to the period. */
  chart: { from: string; to: string; granularity: Interval };
  intervals: Interval[];
  interval: Interval;
  /** undefined: computed from the current answer's period (the last 24 hours). */
  previous: PeriodQuery | undefined;
  days: number;
}

const DAY_MS = 86_400_000;

/** The local date (YYYY-MM-DD) of an instant in a timezone. */
export function localDate(at: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}

export function addDays(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
}

export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS);
}

export const isDay = (s: string | null | undefined): s is string =>
  typeof s === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s);

export const MAX_RANGE_DAYS = 366;
export const MAX_HOURLY_DAYS = 7;

export function resolvePeriod(
  key: PeriodKey,
  timeZone: string,
  now: number,
  custom: { from?: string; to?: string },
  wanted?: Interval,
): ResolvedPeriod {
  const today = localDate(now, timeZone);
  let from = today;
  let to = today;
  switch (key) {
    case 'today':
      break;
    case 'yesterday':
      from = to = addDays(today, -1);
      break;
    case '24h':
      from = addDays(today, -1);
      break;
    case '7d':
      from = addDays(today, -6);
      break;
    case '30d':
      from = addDays(today, -29);
      break;
    case 'month':
      from = `${today.slice(0, 8)}01`;
      break;
    case 'lastmonth': {
      const firstOfThis = `${today.slice(0, 8)}01`;
      to = addDays(firstOfThis, -1);
      from = `${to.slice(0, 8)}01`;
      break;
    }
    case 'custom': {
      const f = isDay(custom.from) ? custom.from : addDays(today, -6);
      const t = isDay(custom.to) ? custom.to : today;
      [from, to] = f <= t ? [f, t] : [t, f];
      if (daysBetween(from, to) >= MAX_RANGE_DAYS) from = addDays(to, -(MAX_RANGE_DAYS - 1));
      break;
    }
  }
  const days = daysBetween(from, to) + 1;
  const intervals: Interval[] = key === '24h' || days <= 1 ? ['hour'] : days <= MAX_HOURLY_DAYS ? ['day', 'hour'] : ['day'];
  const interval = wanted && intervals.includes(wanted) ? wanted : intervals[0]!;
  const label = PERIODS.find((p) => p.key === key)!.label;
  if (key === '24h') {
    return { key, label, from, to, current: { last24h: true }, chart: { from, to, granularity: 'hour' }, intervals, interval, previous: undefined, days: 1 };
  }
  const current = { from, to, granularity: interval };
  return {
    key,
    label,
    from,
    to,
    current,
    chart: current,
    intervals,
    interval,
    previous: { from: addDays(from, -days), to: addDays(from, -1), granularity: interval },
    days,
  };
}

export function periodParams(q: PeriodQuery): Record<string, string> {
  if ('last24h' in q) return q.before ? { before: q.before } : {};
  return { from: q.from, to: q.to, granularity: q.granularity };
}

/** Human text for a range of days: "3 Jun – 9 Jun 2024". */
export function describeDays(from: string, to: string): string {
  const fmt = (d: string, year: boolean) =>
    new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', ...(year ? { year: 'numeric' } : {}), timeZone: 'UTC' }).format(Date.parse(`${d}T00:00:00Z`));
  return from === to ? fmt(from, true) : `${fmt(from, from.slice(0, 4) !== to.slice(0, 4))} – ${fmt(to, true)}`;
}
