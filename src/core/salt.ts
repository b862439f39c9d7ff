// The daily salts of the cookieless visitor hash. One salt per calendar date: an event uses the
// salt of its local date in its site's timezone, so a visitor keeps one hash for a whole local day
// wherever the site is. A salt is random, kept in the store (every API server agrees on it) and
// deleted by the daily maintenance once its date is more than a day behind UTC's: at most ~48 hours
// after that date began. An event older than that gets a one-off visitor id, never linked to anyone.
import { randomBytes } from 'node:crypto';
import { addDays, localDay } from './time.js';

export interface Salt {
  day: string;
  salt: string;
}

export const newSaltValue = () => randomBytes(32).toString('base64url');

const utcDay = (now: number) => new Date(now).toISOString().slice(0, 10);

/** The oldest date whose salt is still kept at `now` (yesterday in UTC). */
export function oldestSaltDay(now: number): string {
  return addDays(utcDay(now), -1);
}

/** The salt date for an event, or undefined when that salt is gone (the event is too late). */
export function saltDayFor(ts: number, timeZone: string, now: number): string | undefined {
  const day = localDay(ts, timeZone);
  return day >= oldestSaltDayMemo(now) ? day : undefined;
}

// Asked on every request: worked out once per UTC day.
let memoDayStart = NaN;
let memoOldest = '';
function oldestSaltDayMemo(now: number): string {
  if (!(now >= memoDayStart && now < memoDayStart + 86_400_000)) {
    memoDayStart = now - (((now % 86_400_000) + 86_400_000) % 86_400_000);
    memoOldest = oldestSaltDay(now);
  }
  return memoOldest;
}

/** Dates whose salts the maintenance makes sure exist ahead of time (every timezone's today). */
export function upcomingSaltDays(now: number): string[] {
  const today = utcDay(now);
  return [addDays(today, -1), today, addDays(today, 1)];
}
