// The period of a statistics request, shared by /api/stats and /api/stats/breakdown:
// `date=YYYY-MM-DD` (one local day), `from=&to=` (local days, both included, optional
// `granularity=day|hour`), or nothing: the last 24 hours (ending now, or at `before`). Every bound a
// client sets is checked here, so no request can make the server loop or allocate without limit.
import { z } from 'zod';
import type { Site } from '../core/site.js';
import { MAX_DAY, MIN_DAY, daysBetween, isSupportedDay, isValidDay } from '../core/time.js';
import { last24hPeriod, rangePeriod, type Granularity } from '../reports/stats.js';
import type { Period } from '../store/port.js';
import { validationFailed } from './errors.js';

export const MAX_RANGE_DAYS = 366;
export const MAX_HOURLY_DAYS = 7;
const DAY_DESCRIPTIONS: Record<string, string> = {
  date: 'One local day (YYYY-MM-DD, the site\'s timezone)',
  from: 'First local day of a range (with `to`, both included, at most 366 days)',
  to: 'Last local day of a range (with `from`)',
};
const day = (name: string) =>
  z
    .string({ error: `${name} must be a date in YYYY-MM-DD format` })
    .refine(isValidDay, { error: `${name} must be a valid date in YYYY-MM-DD format`, abort: true })
    // Date arithmetic is only defined on four-digit years; past them a request could loop forever.
    .refine(isSupportedDay, { error: `${name} must be between ${MIN_DAY} and ${MAX_DAY}` })
    .optional()
    .describe(DAY_DESCRIPTIONS[name]!);

export const periodQuery = {
  date: day('date'),
  from: day('from'),
  to: day('to'),
  granularity: z.enum(['day', 'hour'], { error: 'granularity must be "day" or "hour"' }).optional().describe('The series of a range: by day (default) or by hour (at most 7 days)'),
  before: z
    .string({ error: 'before must be an ISO 8601 date-time' })
    .refine((s) => !Number.isNaN(Date.parse(s)), { error: 'before must be an ISO 8601 date-time, e.g. 2026-12-01T12:00:00Z' })
    .refine((s) => Date.parse(s) >= Date.parse(`${MIN_DAY}T00:00:00Z`) && Date.parse(s) <= Date.parse(`${MAX_DAY}T00:00:00Z`), {
      error: `before must be between ${MIN_DAY} and ${MAX_DAY}`,
    })
    .optional()
    .describe('Without date or range: the 24 hours before this instant instead of now'),
};

export type PeriodParams = { date?: string; from?: string; to?: string; granularity?: Granularity; before?: string };

export type ResolvedPeriod =
  | { kind: 'day'; date: string; period: Period }
  | { kind: 'range'; from: string; to: string; granularity: Granularity; period: Period }
  | { kind: 'last24h'; end: number; period: Period };

export function resolvePeriod(q: PeriodParams, site: Site, now: number): ResolvedPeriod {
  if (q.from !== undefined || q.to !== undefined) {
    if (q.date !== undefined) throw validationFailed([{ field: 'date', message: 'use either date, or from and to' }]);
    if (q.before !== undefined) throw validationFailed([{ field: 'before', message: 'before applies to the last 24 hours only' }]);
    if (q.from === undefined || q.to === undefined) {
      throw validationFailed([{ field: q.from === undefined ? 'from' : 'to', message: 'from and to must be given together' }]);
    }
    if (q.from > q.to) throw validationFailed([{ field: 'from', message: 'from must not be after to' }]);
    const span = daysBetween(q.from, q.to);
    if (span > MAX_RANGE_DAYS) throw validationFailed([{ field: 'to', message: `a range covers at most ${MAX_RANGE_DAYS} days` }]);
    const granularity = q.granularity ?? 'day';
    if (granularity === 'hour' && span > MAX_HOURLY_DAYS) {
      throw validationFailed([{ field: 'granularity', message: `granularity=hour allows at most ${MAX_HOURLY_DAYS} days` }]);
    }
    return { kind: 'range', from: q.from, to: q.to, granularity, period: rangePeriod(site, q.from, q.to, granularity) };
  }
  if (q.date !== undefined) {
    if (q.before !== undefined) throw validationFailed([{ field: 'before', message: 'before applies to the last 24 hours only' }]);
    return { kind: 'day', date: q.date, period: rangePeriod(site, q.date, q.date, 'day') };
  }
  const end = q.before !== undefined ? Date.parse(q.before) : now;
  return { kind: 'last24h', end, period: last24hPeriod(site, end) };
}
