// Calendar arithmetic in a site's timezone. Days are 'YYYY-MM-DD' strings of the local calendar;
// hours are the UTC instant (epoch ms) at which the local hour starts, so DST days have 23 or 25 of them.

const HOUR = 3_600_000;
const SLOT = 15 * 60_000; // every IANA offset change of the last century falls on a quarter hour

// Both caches are bounded: their keys come from sites' timezones, and a timezone is client input.
const formatters = new Map<string, Intl.DateTimeFormat>();
const MAX_FORMATTERS = 1000;
const offsetCache = new Map<string, number>();

function newFormatter(timeZone: string): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
}

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = newFormatter(timeZone);
    if (formatters.size >= MAX_FORMATTERS) formatters.clear();
    formatters.set(timeZone, f);
  }
  return f;
}

/** Timezone formatters held in memory (for tests: it must stay bounded whatever clients send). */
export function formatterCacheSize(): number {
  return formatters.size;
}

/** IANA names in their own spelling, by lower case: a bounded, fixed set. */
let ianaByLowerCase: Map<string, string> | undefined;

/**
 * The canonical spelling of a timezone name (`europe/PARIS` -> `Europe/Paris`), or undefined when
 * it is not one. Nothing is cached per input: site creation calls this with client input.
 */
export function canonicalTimeZone(input: string): string | undefined {
  if (input.length === 0 || input.length > 64) return undefined;
  ianaByLowerCase ??= new Map([...Intl.supportedValuesOf('timeZone'), 'UTC'].map((tz) => [tz.toLowerCase(), tz]));
  const known = ianaByLowerCase.get(input.toLowerCase());
  if (known) return known;
  try {
    // Aliases outside the list (Etc/UTC, US/Eastern): the name Intl resolves them to.
    return newFormatter(input).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

export function isValidTimeZone(timeZone: string): boolean {
  return canonicalTimeZone(timeZone) !== undefined;
}

function computeOffset(ts: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(ts)) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  const local = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  return local - (ts - (((ts % 1000) + 1000) % 1000));
}

/** Offset of local time from UTC at instant `ts`, in ms (e.g. -18000000 for New York in winter). */
export function tzOffset(ts: number, timeZone: string): number {
  if (timeZone === 'UTC') return 0;
  const key = `${timeZone}|${Math.floor(ts / SLOT)}`;
  let offset = offsetCache.get(key);
  if (offset === undefined) {
    offset = computeOffset(ts, timeZone);
    if (offsetCache.size > 50_000) offsetCache.clear();
    offsetCache.set(key, offset);
  }
  return offset;
}

export interface Buckets {
  day: string;
  hour: number;
}

/** The local day and local hour an instant belongs to. */
export function bucketsOf(ts: number, timeZone: string): Buckets {
  const offset = tzOffset(ts, timeZone);
  const local = ts + offset;
  return { day: dayName(Math.floor(local / 86_400_000)), hour: Math.floor(local / HOUR) * HOUR - offset };
}

/** The same buckets as numbers: the local date as days since 1970-01-01, the hour as epoch ms. */
export function bucketNumbers(ts: number, timeZone: string): { day: number; hour: number } {
  const offset = tzOffset(ts, timeZone);
  const local = ts + offset;
  return { day: Math.floor(local / 86_400_000), hour: Math.floor(local / HOUR) * HOUR - offset };
}

/** 'YYYY-MM-DD' ⇄ days since 1970-01-01. */
export const dayNumber = (day: string): number => Math.round(Date.parse(`${day}T00:00:00Z`) / 86_400_000);
export const dayOfNumber = (n: number): string => dayName(n);

const dayNames = new Map<number, string>();

/** 'YYYY-MM-DD' of a day number (days since 1970), remembered: this runs for every event. */
function dayName(dayNumber: number): string {
  let name = dayNames.get(dayNumber);
  if (name === undefined) {
    name = new Date(dayNumber * 86_400_000).toISOString().slice(0, 10);
    if (dayNames.size > 10_000) dayNames.clear();
    dayNames.set(dayNumber, name);
  }
  return name;
}

export function localDay(ts: number, timeZone: string): string {
  return bucketsOf(ts, timeZone).day;
}

export function hourStart(ts: number, timeZone: string): number {
  return bucketsOf(ts, timeZone).hour;
}

const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** True for a real calendar date written as YYYY-MM-DD. */
export function isValidDay(day: string): boolean {
  const m = DAY_RE.exec(day);
  if (!m) return false;
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0–99 as 1900–1999.
  const d = new Date(0);
  d.setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return d.toISOString().slice(0, 10) === day;
}

export function addDays(day: string, n: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/** Number of calendar days from `from` to `to`, both included. */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000) + 1;
}

/**
 * The first and last day any date arithmetic here accepts. Past 9999-12-31 a date no longer has
 * four digits (`+010000-01-01`), and string comparison of days stops meaning anything; the last
 * day is one before that, so `addDays(day, 1)` of an accepted day still has four digits.
 */
export const MIN_DAY = '1970-01-01';
export const MAX_DAY = '9999-12-30';

/** True for a day within [MIN_DAY, MAX_DAY] (callers check isValidDay first). */
export function isSupportedDay(day: string): boolean {
  return day >= MIN_DAY && day <= MAX_DAY;
}

/** Every day from `from` to `to`, both included. Counted, not compared: it always ends. */
export function eachDay(from: string, to: string, max = 10_000): string[] {
  const n = daysBetween(from, to);
  if (!Number.isFinite(n) || n > max) throw new RangeError(`eachDay: ${from}..${to} is more than ${max} days`);
  const first = Date.parse(`${from}T00:00:00Z`) / 86_400_000;
  const days: string[] = [];
  for (let i = 0; i < n; i++) days.push(dayName(first + i));
  return days;
}

/** The UTC instant at which local day `day` begins (the first instant whose local date is `day`). */
export function dayStart(day: string, timeZone: string): number {
  const midnightAsUtc = Date.parse(`${day}T00:00:00Z`);
  // Local midnight is within a day of UTC midnight; refine the guess with the offset found there.
  let guess = midnightAsUtc - tzOffset(midnightAsUtc, timeZone);
  guess = midnightAsUtc - tzOffset(guess, timeZone);
  // Zones that skip midnight (DST at 00:00) start the day at the first local hour that exists.
  // Each loop moves at most a day (offsets stay within ±26 h): bounded, whatever the input.
  for (let i = 0; i < 30 && localDay(guess, timeZone) < day; i++) guess += HOUR;
  for (let i = 0; i < 30 && localDay(guess - HOUR, timeZone) === day; i++) guess -= HOUR;
  return hourStart(guess, timeZone);
}

/** Local hour starts of the day, in order (24 on most days, 23 or 25 on DST changes). */
export function hoursOfDay(day: string, timeZone: string): number[] {
  const end = dayStart(addDays(day, 1), timeZone);
  const hours: number[] = [];
  for (let h = dayStart(day, timeZone); h < end && hours.length < 30; h = nextHour(h, timeZone)) hours.push(h);
  return hours;
}

/** The start of the local hour after the one starting at `h`; always later than `h`. */
export function nextHour(h: number, timeZone: string): number {
  const next = hourStart(h + HOUR, timeZone);
  return next > h ? next : h + HOUR;
}

export { HOUR };

/** ISO 8601 with the local offset, e.g. 2024-03-10T03:00:00-04:00. */
export function toLocalIso(ts: number, timeZone: string): string {
  const offset = tzOffset(ts, timeZone);
  const local = new Date(ts + offset).toISOString().slice(0, 19);
  if (offset === 0) return `${local}Z`;
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset) / 60_000;
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}
