// The rollup plan on its own: visits, bounces, durations, entry and exit pages, late events and
// order independence. Plans are executed here by a few lines over Maps (what every adapter does
// with its tables), so the numbers below are the ones the stores must show.
import { describe, expect, it } from 'vitest';
import { DIMENSIONS, ENTRY, EXIT, TOTAL, VISIT_DIMENSIONS } from '../../src/core/dimensions.js';
import { DAY, HOUR, SLOT_DIMS, applyVisitorDeltas, planBatch, slotOf, type PlanEvent, type VisitRecord } from '../../src/core/plan.js';
import { bucketNumbers } from '../../src/core/time.js';

const MIN = 60_000;
const T = 30 * MIN;
const PAGE = DIMENSIONS.find((d) => d.name === 'page')!.id;
const SOURCE = DIMENSIONS.find((d) => d.name === 'source')!.id;

/** A tiny store: counters, members (of event-level values) and visit states in Maps. */
class MemoryRollups {
  counters = new Map<string, Record<string, number>>();
  members = new Set<string>();
  visits = new Map<string, VisitRecord<string>[]>();

  constructor(readonly tz = 'UTC') {}

  apply(events: PlanEvent<string>[]): void {
    const plan = planBatch<string>({ events, visits: this.visits, timeoutMs: T, bucketsOf: (ts) => bucketNumbers(ts, this.tz), none: '' });
    const inserted = plan.members.map((m) => {
      const c = m.counter;
      const key = `${c.grain}|${c.bucket}|${c.dim}|${c.scope}|${c.value}|${m.visitor}`;
      const fresh = !this.members.has(key);
      this.members.add(key);
      return fresh;
    });
    applyVisitorDeltas(plan, inserted);
    for (const c of plan.counters) {
      const key = `${c.grain}|${c.bucket}|${c.dim}|${c.scope}|${c.value}`;
      const row = this.counters.get(key) ?? { pageviews: 0, events: 0, visitors: 0, visits: 0, bounces: 0, durationMs: 0 };
      for (const f of ['pageviews', 'events', 'visitors', 'visits', 'bounces', 'durationMs'] as const) row[f]! += c[f];
      this.counters.set(key, row);
    }
    for (const d of plan.deleteVisits) this.visits.set(d.visitor, (this.visits.get(d.visitor) ?? []).filter((v) => v.start !== d.start));
    for (const v of plan.putVisits) this.visits.set(v.visitor, [...(this.visits.get(v.visitor) ?? []).filter((x) => x.start !== v.start), v]);
    this.checkVisitLevelVisitors();
  }

  /**
   * The visitors of every visit-level row, as the plan's deltas added them up, equal the distinct
   * visitors of the visits now stored that start in the row's bucket with its value (what readers
   * count from the visit records).
   */
  checkVisitLevelVisitors(): void {
    const expected = new Map<string, Set<string>>();
    for (const list of this.visits.values()) {
      for (const v of list) {
        const at = bucketNumbers(v.start, this.tz);
        SLOT_DIMS.forEach((dim, slot) => {
          const value = slot < VISIT_DIMENSIONS.length ? (v.values[slot] ?? '') : dim === ENTRY.id ? v.entry : v.exit;
          if ((dim === ENTRY.id || dim === EXIT.id) && value === '') return;
          for (const [grain, bucket] of [[DAY, at.day], [HOUR, at.hour]]) {
            const key = `${grain}|${bucket}|${dim}||${value}`;
            const set = expected.get(key) ?? new Set();
            set.add(v.visitor);
            expected.set(key, set);
          }
        });
      }
    }
    for (const [key, row] of this.counters) {
      const dim = Number(key.split('|')[2]);
      if (slotOf(dim) < 0) continue;
      expect(row.visitors, key).toBe(expected.get(key)?.size ?? 0);
    }
    for (const [key, set] of expected) expect(this.counters.get(key)?.visitors, key).toBe(set.size);
  }

  row(grain: number, bucket: number, dim: number, value = '') {
    return this.counters.get(`${grain}|${bucket}|${dim}||${value}`) ?? { pageviews: 0, events: 0, visitors: 0, visits: 0, bounces: 0, durationMs: 0 };
  }

  /** All non-zero rows of one dimension in one bucket, by value. */
  rows(grain: number, bucket: number, dim: number): Record<string, { visitors: number; visits: number }> {
    const out: Record<string, { visitors: number; visits: number }> = {};
    for (const [key, r] of this.counters) {
      const [g, b, d, , v] = key.split('|');
      if (Number(g) === grain && Number(b) === bucket && Number(d) === dim && (r.visitors || r.visits)) out[v!] = { visitors: r.visitors!, visits: r.visits! };
    }
    return out;
  }
}

let seq = 0;
function ev(visitor: string, ts: number, path: string | null, opts: { source?: string; tz?: string } = {}): PlanEvent<string> {
  const isPageview = path !== null;
  const visitValues = VISIT_DIMENSIONS.map((d) => (d.id === SOURCE ? (opts.source ?? '') : ''));
  return {
    id: `e${String(++seq).padStart(6, '0')}`,
    ts,
    visitor,
    isPageview,
    buckets: bucketNumbers(ts, opts.tz ?? 'UTC'),
    page: path ?? '',
    eventValues: isPageview ? [[PAGE, '', path!]] : [[DIMENSIONS.find((d) => d.name === 'event')!.id, '', 'signup']],
    visitValues,
  };
}

const at = (iso: string) => Date.parse(iso);
const day = (iso: string) => bucketNumbers(at(iso), 'UTC').day;

describe('rollup plan: visits', () => {
  const t0 = at('2026-11-30T10:00:00Z');
  const script = () => [
    // a: three page views over five minutes — one visit, 300 s, not a bounce
    ev('a', t0, '/'),
    ev('a', t0 + 2 * MIN, '/pricing'),
    ev('a', t0 + 5 * MIN, '/signup'),
    // b: one page view — a bounce
    ev('b', t0 + MIN, '/blog'),
    // c: comes back after 40 minutes — two visits, both bounces
    ev('c', t0, '/'),
    ev('c', t0 + 40 * MIN, '/docs'),
    // d: a page view and a custom event — not a bounce, 60 s
    ev('d', t0 + 10 * MIN, '/pricing'),
    ev('d', t0 + 11 * MIN, null),
  ];

  function check(r: MemoryRollups) {
    const d = day('2026-11-30T00:00:00Z');
    const total = r.row(DAY, d, TOTAL.id);
    expect(total).toMatchObject({ pageviews: 7, events: 1, visitors: 4, visits: 5, bounces: 3, durationMs: 360_000 });
    expect(r.rows(DAY, d, ENTRY.id)).toEqual({ '/': { visitors: 2, visits: 2 }, '/blog': { visitors: 1, visits: 1 }, '/docs': { visitors: 1, visits: 1 }, '/pricing': { visitors: 1, visits: 1 } });
    expect(r.rows(DAY, d, EXIT.id)).toEqual({ '/signup': { visitors: 1, visits: 1 }, '/blog': { visitors: 1, visits: 1 }, '/': { visitors: 1, visits: 1 }, '/docs': { visitors: 1, visits: 1 }, '/pricing': { visitors: 1, visits: 1 } });
    // hours: a, b, c's first visit and d start at 10:00; c's second at 10:40 — all in hour 10
    expect(r.row(HOUR, bucketNumbers(t0, 'UTC').hour, TOTAL.id)).toMatchObject({ visits: 5, bounces: 3 });
  }

  it('counts the fixed script exactly in one batch', () => {
    const r = new MemoryRollups();
    r.apply(script());
    check(r);
  });

  it('gives the same answer for shuffled events in one batch', () => {
    const r = new MemoryRollups();
    const events = script().reverse();
    [events[1], events[5]] = [events[5]!, events[1]!];
    r.apply(events);
    check(r);
  });

  it('gives the same answer when each event arrives in its own batch, in time order', () => {
    const r = new MemoryRollups();
    for (const e of script().sort((x, y) => x.ts - y.ts)) r.apply([e]);
    check(r);
  });

  it('applies a visit that crosses midnight to the day of its first event', () => {
    const r = new MemoryRollups();
    const late = at('2026-11-30T23:50:00Z');
    r.apply([ev('m', late, '/a')]);
    r.apply([ev('m', late + 20 * MIN, '/b')]); // 00:10 the next day
    const d1 = day('2026-11-30T00:00:00Z');
    expect(r.row(DAY, d1, TOTAL.id)).toMatchObject({ visits: 1, bounces: 0, durationMs: 20 * MIN, pageviews: 1 });
    expect(r.row(DAY, d1 + 1, TOTAL.id)).toMatchObject({ visits: 0, pageviews: 1, visitors: 1 });
    expect(r.rows(DAY, d1, EXIT.id)).toEqual({ '/b': { visitors: 1, visits: 1 } });
  });

  it('attributes a visit to its first event in the site timezone', () => {
    const tz = 'America/New_York';
    const r = new MemoryRollups(tz);
    const t = at('2026-12-01T04:50:00Z'); // 23:50 on Nov 30 in New York
    r.apply([ev('n', t, '/a', { tz }), ev('n', t + 20 * MIN, '/b', { tz })]);
    expect(r.row(DAY, day('2026-11-30T00:00:00Z'), TOTAL.id)).toMatchObject({ visits: 1, pageviews: 1 });
    expect(r.row(DAY, day('2026-12-01T00:00:00Z'), TOTAL.id)).toMatchObject({ visits: 0, pageviews: 1 });
  });

  it('moves the exit page as a visit goes on and keeps visitor counts exact', () => {
    const r = new MemoryRollups();
    r.apply([ev('x', t0, '/a')]);
    r.apply([ev('x', t0 + MIN, '/b')]);
    r.apply([ev('x', t0 + 2 * MIN, '/a')]);
    const d = day('2026-11-30T00:00:00Z');
    expect(r.rows(DAY, d, EXIT.id)).toEqual({ '/a': { visitors: 1, visits: 1 } });
    expect(r.rows(DAY, d, ENTRY.id)).toEqual({ '/a': { visitors: 1, visits: 1 } });
  });

  it('counts visit dimensions from the first event of the visit', () => {
    const r = new MemoryRollups();
    r.apply([ev('s', t0, '/', { source: 'Google' }), ev('s', t0 + MIN, '/x', { source: 'Bing' })]);
    r.apply([ev('s', t0 + 2 * MIN, '/y', { source: 'Bing' })]);
    const d = day('2026-11-30T00:00:00Z');
    expect(r.rows(DAY, d, SOURCE)).toEqual({ Google: { visitors: 1, visits: 1 } });
    expect(r.row(DAY, d, SOURCE, 'Google').pageviews).toBe(3);
  });
});

describe('rollup plan: events in any order', () => {
  const t0 = at('2026-11-30T10:00:00Z');
  const d = day('2026-11-30T00:00:00Z');

  it('counts a late event inside a visit into it', () => {
    const r = new MemoryRollups();
    r.apply([ev('l', t0, '/a'), ev('l', t0 + 10 * MIN, '/c')]);
    r.apply([ev('l', t0 + 5 * MIN, '/b')]);
    expect(r.row(DAY, d, TOTAL.id)).toMatchObject({ visits: 1, pageviews: 3, durationMs: 10 * MIN, bounces: 0 });
    expect(r.rows(DAY, d, EXIT.id)).toEqual({ '/c': { visitors: 1, visits: 1 } });
  });

  it('turns a bounce into a visit with two page views when a second one comes at the same time', () => {
    const r = new MemoryRollups();
    r.apply([ev('l', t0, '/a')]);
    r.apply([ev('l', t0, '/b')]);
    expect(r.row(DAY, d, TOTAL.id)).toMatchObject({ visits: 1, bounces: 0, pageviews: 2 });
  });

  it('extends a visit back in time for an earlier event within the timeout, and its entry page and source with it', () => {
    const r = new MemoryRollups();
    r.apply([ev('l', t0, '/a', { source: 'Bing' }), ev('l', t0 + 5 * MIN, '/b')]);
    r.apply([ev('l', t0 - 10 * MIN, '/early', { source: 'Google' })]);
    expect(r.row(DAY, d, TOTAL.id)).toMatchObject({ visits: 1, bounces: 0, pageviews: 3, visitors: 1, durationMs: 15 * MIN });
    expect(r.rows(DAY, d, ENTRY.id)).toEqual({ '/early': { visitors: 1, visits: 1 } });
    expect(r.rows(DAY, d, SOURCE)).toEqual({ Google: { visitors: 1, visits: 1 } });
    // an event more than the timeout before counts as a visit of its own
    r.apply([ev('l', t0 - 50 * MIN, '/earlier')]);
    expect(r.row(DAY, d, TOTAL.id)).toMatchObject({ visits: 2, bounces: 1 });
  });

  it('joins two visits into one when an event falls between them within the timeout of both', () => {
    const r = new MemoryRollups();
    r.apply([ev('j', t0, '/a')]);
    r.apply([ev('j', t0 + 40 * MIN, '/c')]);
    expect(r.row(DAY, d, TOTAL.id)).toMatchObject({ visits: 2, bounces: 2 });
    r.apply([ev('j', t0 + 20 * MIN, '/b')]);
    expect(r.row(DAY, d, TOTAL.id)).toMatchObject({ visits: 1, bounces: 0, durationMs: 40 * MIN, pageviews: 3 });
    expect(r.rows(DAY, d, ENTRY.id)).toEqual({ '/a': { visitors: 1, visits: 1 } });
    expect(r.rows(DAY, d, EXIT.id)).toEqual({ '/c': { visitors: 1, visits: 1 } });
  });

  it('gives the same numbers for every arrival order of a visitor\'s events', () => {
    const events = [ev('o', t0, '/a'), ev('o', t0 + 20 * MIN, '/b'), ev('o', t0 + 45 * MIN, '/c'), ev('o', t0 + 90 * MIN, '/d'), ev('o', t0 + 100 * MIN, null)];
    const permutations = (xs: PlanEvent<string>[]): PlanEvent<string>[][] =>
      xs.length <= 1 ? [xs] : xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
    const snapshot = (r: MemoryRollups) => JSON.stringify([...r.counters].filter(([, v]) => Object.values(v).some((n) => n !== 0)).sort());
    const reference = new MemoryRollups();
    reference.apply(events);
    expect(reference.row(DAY, d, TOTAL.id)).toMatchObject({ visits: 2, durationMs: 45 * MIN + 10 * MIN });
    for (const order of permutations(events)) {
      const r = new MemoryRollups();
      for (const e of order) r.apply([e]);
      expect(snapshot(r)).toBe(snapshot(reference));
    }
  });

  it('starts a new visit exactly at the timeout', () => {
    const r = new MemoryRollups();
    r.apply([ev('g', t0, '/a'), ev('g', t0 + T - 1, '/b'), ev('g', t0 + T - 1 + T, '/c')]);
    expect(r.row(DAY, d, TOTAL.id)).toMatchObject({ visits: 2, bounces: 1, durationMs: T - 1 });
  });
});

// Visitors of visit-level values come from the visit records (no member rows): every apply above
// and below also checks them against the visits stored (MemoryRollups.checkVisitLevelVisitors).
describe('rollup plan: visitors of visit-level values', () => {
  const t0 = at('2026-11-30T10:00:00Z');
  const d = day('2026-11-30T00:00:00Z');
  const h = (ts: number) => bucketNumbers(ts, 'UTC').hour;

  it('counts two visits of one visitor on one day with the same value as one visitor', () => {
    const r = new MemoryRollups();
    r.apply([ev('v', t0, '/a', { source: 'Google' })]);
    r.apply([ev('v', t0 + 2 * 60 * MIN, '/b', { source: 'Google' })]);
    expect(r.rows(DAY, d, SOURCE)).toEqual({ Google: { visitors: 1, visits: 2 } });
    expect(r.rows(HOUR, h(t0), SOURCE)).toEqual({ Google: { visitors: 1, visits: 1 } });
    expect(r.rows(HOUR, h(t0 + 2 * 60 * MIN), SOURCE)).toEqual({ Google: { visitors: 1, visits: 1 } });
    // A third visit from elsewhere: one more value for the same visitor.
    r.apply([ev('v', t0 + 4 * 60 * MIN, '/c', { source: 'Bing' })]);
    expect(r.rows(DAY, d, SOURCE)).toEqual({ Google: { visitors: 1, visits: 2 }, Bing: { visitors: 1, visits: 1 } });
    expect(r.row(DAY, d, TOTAL.id)).toMatchObject({ visitors: 1, visits: 3 });
  });

  it('moves the visitor between values when a merge changes a visit\'s first event', () => {
    const r = new MemoryRollups();
    r.apply([ev('m', t0, '/a', { source: 'Bing' })]);
    expect(r.rows(DAY, d, SOURCE)).toEqual({ Bing: { visitors: 1, visits: 1 } });
    r.apply([ev('m', t0 - 10 * MIN, '/early', { source: 'Google' })]);
    expect(r.rows(DAY, d, SOURCE)).toEqual({ Google: { visitors: 1, visits: 1 } });
    expect(r.row(DAY, d, SOURCE, 'Bing')).toMatchObject({ visitors: 0, visits: 0 });
    // With another Bing visit the same day, the visitor stays a Bing visitor too.
    const s = new MemoryRollups();
    s.apply([ev('m', t0, '/a', { source: 'Bing' }), ev('m', t0 + 3 * 60 * MIN, '/b', { source: 'Bing' })]);
    s.apply([ev('m', t0 - 10 * MIN, '/early', { source: 'Google' })]);
    expect(s.rows(DAY, d, SOURCE)).toEqual({ Google: { visitors: 1, visits: 1 }, Bing: { visitors: 1, visits: 1 } });
  });

  it('follows entry and exit pages as they change, per visitor and not per visit', () => {
    const r = new MemoryRollups();
    // Two visits of one visitor, both entering and leaving on /a.
    r.apply([ev('x', t0, '/a'), ev('x', t0 + 2 * 60 * MIN, '/a')]);
    expect(r.rows(DAY, d, EXIT.id)).toEqual({ '/a': { visitors: 1, visits: 2 } });
    // The first visit goes on to /b: /a is still the exit of the second.
    r.apply([ev('x', t0 + MIN, '/b')]);
    expect(r.rows(DAY, d, EXIT.id)).toEqual({ '/a': { visitors: 1, visits: 1 }, '/b': { visitors: 1, visits: 1 } });
    // The second too: no visit leaves on /a any more.
    r.apply([ev('x', t0 + 2 * 60 * MIN + MIN, '/b')]);
    expect(r.rows(DAY, d, EXIT.id)).toEqual({ '/b': { visitors: 1, visits: 2 } });
    expect(r.row(DAY, d, EXIT.id, '/a')).toMatchObject({ visitors: 0, visits: 0 });
    // An earlier page view changes the first visit's entry page.
    r.apply([ev('x', t0 - 5 * MIN, '/start')]);
    expect(r.rows(DAY, d, ENTRY.id)).toEqual({ '/start': { visitors: 1, visits: 1 }, '/a': { visitors: 1, visits: 1 } });
    // A visit of custom events only has no entry or exit page.
    r.apply([ev('y', t0, null)]);
    expect(Object.keys(r.rows(DAY, d, ENTRY.id)).sort()).toEqual(['/a', '/start']);
  });

  it('joins two visits with other values into one: the second one\'s values lose the visitor', () => {
    const r = new MemoryRollups();
    const t = at('2026-11-30T10:50:00Z');
    r.apply([ev('j', t, '/a', { source: 'Google' })]);
    r.apply([ev('j', t + 40 * MIN, '/c', { source: 'Bing' })]); // 11:30: the next hour
    expect(r.rows(DAY, d, SOURCE)).toEqual({ Google: { visitors: 1, visits: 1 }, Bing: { visitors: 1, visits: 1 } });
    expect(r.rows(HOUR, h(t + 40 * MIN), SOURCE)).toEqual({ Bing: { visitors: 1, visits: 1 } });
    r.apply([ev('j', t + 20 * MIN, '/b', { source: 'Bing' })]);
    expect(r.rows(DAY, d, SOURCE)).toEqual({ Google: { visitors: 1, visits: 1 } });
    expect(r.rows(DAY, d, ENTRY.id)).toEqual({ '/a': { visitors: 1, visits: 1 } });
    expect(r.rows(DAY, d, EXIT.id)).toEqual({ '/c': { visitors: 1, visits: 1 } });
    // In hours: the visit is all of hour 10's; hour 11 keeps no visit-level visitor.
    expect(r.rows(HOUR, h(t), SOURCE)).toEqual({ Google: { visitors: 1, visits: 1 } });
    expect(r.rows(HOUR, h(t), EXIT.id)).toEqual({ '/c': { visitors: 1, visits: 1 } });
    for (const dim of SLOT_DIMS) expect(r.rows(HOUR, h(t + 40 * MIN), dim)).toEqual({});
    expect(r.row(HOUR, h(t + 40 * MIN), TOTAL.id)).toMatchObject({ visits: 0, pageviews: 2, visitors: 1 }); // 11:10 and 11:30
  });

  it('keeps a visit across midnight with the visitors of the day it began, and moves it when an earlier event comes', () => {
    const r = new MemoryRollups();
    const midnight = at('2026-12-01T00:00:00Z');
    r.apply([ev('n', midnight + 5 * MIN, '/b', { source: 'Bing' })]);
    expect(r.rows(DAY, d + 1, SOURCE)).toEqual({ Bing: { visitors: 1, visits: 1 } });
    // 23:50 the day before, within the timeout: the visit now begins on Nov 30, with its values.
    r.apply([ev('n', midnight - 10 * MIN, '/a', { source: 'Google' })]);
    expect(r.rows(DAY, d, SOURCE)).toEqual({ Google: { visitors: 1, visits: 1 } });
    expect(r.rows(DAY, d, EXIT.id)).toEqual({ '/b': { visitors: 1, visits: 1 } });
    for (const dim of SLOT_DIMS) expect(r.rows(DAY, d + 1, dim)).toEqual({});
    expect(r.row(DAY, d + 1, TOTAL.id)).toMatchObject({ visits: 0, pageviews: 1, visitors: 1 });
    // Later that night: the exit page moves, on Nov 30's rows.
    r.apply([ev('n', midnight + 20 * MIN, '/c')]);
    expect(r.rows(DAY, d, EXIT.id)).toEqual({ '/c': { visitors: 1, visits: 1 } });
  });

  it('stays exact for many visitors, values and arrival orders', () => {
    // A fixed pseudo-random stream: 6 visitors, 3 sources, 4 pages, over two days and all hours.
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 48271) % 2147483647) % n);
    const events = Array.from({ length: 120 }, () =>
      ev(`r${rand(6)}`, t0 + rand(36 * 60) * MIN, rand(5) === 0 ? null : `/p${rand(4)}`, { source: ['Google', 'Bing', ''][rand(3)]! }),
    );
    const reference = new MemoryRollups();
    reference.apply(events);
    const snapshot = (m: MemoryRollups) => JSON.stringify([...m.counters].filter(([, v]) => Object.values(v).some((n) => n !== 0)).sort());
    for (let order = 0; order < 3; order++) {
      const shuffled = [...events].sort(() => rand(3) - 1);
      const r = new MemoryRollups();
      for (let i = 0; i < shuffled.length; i += 1 + order * 7) r.apply(shuffled.slice(i, i + 1 + order * 7));
      expect(snapshot(r)).toBe(snapshot(reference));
    }
  });
});
