// The rollup plan: from a batch of new events of one site (their ids already resolved by the store)
// and the stored visits of their visitors, everything the batch changes in the rollups — computed
// once, here, whatever the database. Adapters execute a plan (store/*/) and report which membership
// rows changed; `applyVisitorDeltas` turns that into the visitor counters.
//
// Visits (the definitions the README gives): a visit is a run of one visitor's events with no gap
// of SESSION_TIMEOUT or more; it belongs to the day and hour of its first event. The store keeps
// each visit as a record (first and last event, page views, entry and exit pages, the values of its
// first event). A batch's events are merged into the records they fall within SESSION_TIMEOUT of —
// an event may extend a visit at either end, or join two visits into one — and every record that
// changed has its old contribution to the rollups taken back and its new one added. So the numbers
// are those of the visitor's events whatever order they arrive in, across jobs and workers.
import { DIMENSIONS, ENTRY, EXIT, IGNORED, TOTAL, VISIT_DIMENSIONS } from './dimensions.js';

export const DAY = 1;
export const HOUR = 2;
export type Grain = typeof DAY | typeof HOUR;

export interface EventBuckets {
  /** Local date as days since 1970-01-01. */
  day: number;
  /** Epoch ms at which the local hour starts. */
  hour: number;
}

/**
 * Ids of visitors and values are the store's: dictionary numbers in SQL, the strings themselves in
 * MongoDB. `none` (PlanInput) is the id of "no value" (SQL 0, MongoDB '').
 */
export type Id = number | string;

/** An event ready for planning. */
export interface PlanEvent<I extends Id = Id> {
  id: string;
  ts: number;
  visitor: I;
  isPageview: boolean;
  buckets: EventBuckets;
  /** Id of the path (page, entry and exit pages). */
  page: I;
  /** Event-level values: [dimension id, scope id, value id] triples (a page view's page included). */
  eventValues: [number, I, I][];
  /** Value ids of the visit dimensions, in VISIT_DIMENSIONS order. */
  visitValues: I[];
  /** Value id of the reason, for an ignored (not counted) event. */
  ignored?: I;
}

/** One visit of a visitor, as the store keeps it. */
export interface VisitRecord<I extends Id = Id> {
  visitor: I;
  /** Times of its first and last event. */
  start: number;
  last: number;
  /** Values of its first event's visit dimensions, in VISIT_DIMENSIONS order. */
  values: I[];
  /** Path and time of its first and last page view (`none` and -1 while it has none). */
  entry: I;
  entryTs: number;
  exit: I;
  exitTs: number;
  pageviews: number;
  events: number;
}

export interface CounterDelta<I extends Id = Id> {
  grain: Grain;
  bucket: number;
  dim: number;
  scope: I;
  value: I;
  pageviews: number;
  events: number;
  visits: number;
  bounces: number;
  durationMs: number;
  /** Filled by applyVisitorDeltas from the membership results. */
  visitors: number;
  /** Set on a bucket's totals row when anything of that bucket changed (readers' cache check). */
  revision: number;
}

/**
 * One visitor's membership in a counter's row. `refs` 0: insert if absent (event-level values: the
 * visitor counts once, for good). ±n: a reference count (visit-level values, which a visit can
 * give back when it changes); the visitor counts while it is above zero.
 */
export interface MemberOp<I extends Id = Id> {
  counter: CounterDelta<I>;
  visitor: I;
  refs: number;
}

export interface RollupPlan<I extends Id = Id> {
  counters: CounterDelta<I>[];
  members: MemberOp<I>[];
  /** Visit records to delete (by visitor and start) and to write. */
  deleteVisits: { visitor: I; start: number }[];
  putVisits: VisitRecord<I>[];
}

export interface PlanInput<I extends Id = Id> {
  events: PlanEvent<I>[];
  /**
   * The stored visits of the batch's visitors that end after (first event − timeout) and start
   * before (last event + timeout): every visit an event of the batch can touch. More do no harm.
   */
  visits: ReadonlyMap<I, VisitRecord<I>[]>;
  timeoutMs: number;
  bucketsOf: (ts: number) => EventBuckets;
  /** The id of "no value". */
  none: I;
}

export const isBounce = (v: Pick<VisitRecord, 'pageviews' | 'events'>) => v.pageviews === 1 && v.events === 0;

const compare = (a: Id, b: Id) => (a < b ? -1 : a > b ? 1 : 0);

class Builder<I extends Id> {
  private counterMap = new Map<string, CounterDelta<I>>();
  private memberMap = new Map<string, MemberOp<I>>();

  constructor(readonly none: I) {}

  counter(grain: Grain, bucket: number, dim: number, scope: I, value: I): CounterDelta<I> {
    const key = `${grain}|${bucket}|${dim}|${scope}|${value}`;
    let c = this.counterMap.get(key);
    if (!c) {
      c = { grain, bucket, dim, scope, value, pageviews: 0, events: 0, visits: 0, bounces: 0, durationMs: 0, visitors: 0, revision: 0 };
      this.counterMap.set(key, c);
    }
    return c;
  }

  /** The rows of both grains of a bucket pair. */
  each(b: EventBuckets, dim: number, scope: I, value: I, fn: (c: CounterDelta<I>) => void): void {
    fn(this.counter(DAY, b.day, dim, scope, value));
    fn(this.counter(HOUR, b.hour, dim, scope, value));
  }

  /** Insert-if-absent ops stay 0; reference-counted ops add up (and may cancel out). */
  member(c: CounterDelta<I>, visitor: I, refs: number): void {
    const key = `${c.grain}|${c.bucket}|${c.dim}|${c.scope}|${c.value}|${visitor}|${refs === 0 ? 'i' : 'r'}`;
    const m = this.memberMap.get(key);
    if (!m) this.memberMap.set(key, { counter: c, visitor, refs });
    else m.refs += refs;
  }

  build(deleteVisits: RollupPlan<I>['deleteVisits'], putVisits: VisitRecord<I>[]): RollupPlan<I> {
    const members = [...this.memberMap.entries()].filter(([k, m]) => k.endsWith('|i') || m.refs !== 0).map(([, m]) => m);
    const referenced = new Set(members.map((m) => m.counter));
    const isZero = (c: CounterDelta<I>) => !c.pageviews && !c.events && !c.visits && !c.bounces && !c.durationMs;
    const counters = [...this.counterMap.values()].filter((c) => !isZero(c) || referenced.has(c));
    // Every bucket the plan changes gets its totals row's revision bumped (readers' cache check).
    const touched = new Map<string, CounterDelta<I>>();
    for (const c of counters) {
      const t = this.counter(c.grain, c.bucket, TOTAL.id, this.none, this.none);
      t.revision = 1;
      touched.set(`${c.grain}|${c.bucket}`, t);
    }
    const all = [...counters.filter((c) => !(c.dim === TOTAL.id && c.scope === this.none && c.value === this.none)), ...touched.values()];
    return { counters: all, members, deleteVisits, putVisits };
  }
}

export function planBatch<I extends Id>(input: PlanInput<I>): RollupPlan<I> {
  const b = new Builder<I>(input.none);
  const events = [...input.events].sort((x, y) => compare(x.visitor, y.visitor) || x.ts - y.ts || compare(x.id, y.id));
  const deleteVisits: RollupPlan<I>['deleteVisits'] = [];
  const putVisits: VisitRecord<I>[] = [];
  let i = 0;
  while (i < events.length) {
    const visitor = events[i]!.visitor;
    const stored = [...(input.visits.get(visitor) ?? [])].sort((x, y) => x.start - y.start);
    let records = stored.map((r) => ({ ...r }));
    let touched = false;
    for (; i < events.length && events[i]!.visitor === visitor; i++) {
      const e = events[i]!;
      if (e.ignored !== undefined) {
        b.each(e.buckets, IGNORED.id, input.none, e.ignored, (c) => c.events++);
        continue;
      }
      countEvent(b, e);
      records = addToVisits(records, e, input.timeoutMs, input.none);
      touched = true;
    }
    if (!touched) continue;
    // Records unchanged by the batch cancel out; the others are given back and added anew.
    const same = (x: VisitRecord<I>, y: VisitRecord<I>) =>
      x.start === y.start && x.last === y.last && x.entry === y.entry && x.entryTs === y.entryTs && x.exit === y.exit && x.exitTs === y.exitTs &&
      x.pageviews === y.pageviews && x.events === y.events && x.values.length === y.values.length && x.values.every((v, k) => v === y.values[k]);
    const gone = stored.filter((s) => !records.some((r) => same(r, s)));
    const fresh = records.filter((r) => !stored.some((s) => same(r, s)));
    for (const r of gone) contribute(b, r, -1, input.bucketsOf(r.start));
    for (const r of fresh) contribute(b, r, 1, input.bucketsOf(r.start));
    for (const r of gone) if (!fresh.some((f) => f.start === r.start)) deleteVisits.push({ visitor, start: r.start });
    putVisits.push(...fresh);
  }
  return b.build(deleteVisits, putVisits);
}

/** What every event adds in its own buckets: the totals and its event-level values. */
function countEvent<I extends Id>(b: Builder<I>, e: PlanEvent<I>): void {
  const add = (c: CounterDelta<I>) => {
    if (e.isPageview) c.pageviews++;
    else c.events++;
    b.member(c, e.visitor, 0);
  };
  b.each(e.buckets, TOTAL.id, b.none, b.none, add);
  for (const [dim, scope, value] of e.eventValues) b.each(e.buckets, dim, scope, value, add);
}

/** The visitor's visits (sorted by start) with one more event: it joins every visit it is within the timeout of. */
function addToVisits<I extends Id>(records: VisitRecord<I>[], e: PlanEvent<I>, timeoutMs: number, none: I): VisitRecord<I>[] {
  let merged: VisitRecord<I> = {
    visitor: e.visitor,
    start: e.ts,
    last: e.ts,
    values: [...e.visitValues],
    entry: e.isPageview ? e.page : none,
    entryTs: e.isPageview ? e.ts : -1,
    exit: e.isPageview ? e.page : none,
    exitTs: e.isPageview ? e.ts : -1,
    pageviews: e.isPageview ? 1 : 0,
    events: e.isPageview ? 0 : 1,
  };
  const rest: VisitRecord<I>[] = [];
  for (const r of records) {
    if (e.ts > r.start - timeoutMs && e.ts < r.last + timeoutMs) merged = mergeVisits(r, merged, none);
    else rest.push(r);
  }
  rest.push(merged);
  return rest.sort((x, y) => x.start - y.start);
}

/** One visit from two that overlap in time: its first event's values, its first and last page view. */
function mergeVisits<I extends Id>(a: VisitRecord<I>, b: VisitRecord<I>, none: I): VisitRecord<I> {
  // On a tie the visit already stored (a) keeps its first event and pages.
  const first = b.start < a.start ? b : a;
  const entryOf = a.entry === none ? b : b.entry === none ? a : b.entryTs < a.entryTs ? b : a;
  const exitOf = a.exit === none ? b : b.exit === none ? a : b.exitTs > a.exitTs ? b : a;
  return {
    visitor: a.visitor,
    start: Math.min(a.start, b.start),
    last: Math.max(a.last, b.last),
    values: [...first.values],
    entry: entryOf.entry,
    entryTs: entryOf.entryTs,
    exit: exitOf.exit,
    exitTs: exitOf.exitTs,
    pageviews: a.pageviews + b.pageviews,
    events: a.events + b.events,
  };
}

/**
 * A visit's part of the rollups, in the buckets where it started (sign -1 takes it back): totals'
 * visits, bounces and duration; per visit dimension its visits, page views, custom events and its
 * visitor; its entry and exit pages.
 */
function contribute<I extends Id>(b: Builder<I>, v: VisitRecord<I>, sign: 1 | -1, at: EventBuckets): void {
  b.each(at, TOTAL.id, b.none, b.none, (c) => {
    c.visits += sign;
    if (isBounce(v)) c.bounces += sign;
    c.durationMs += sign * (v.last - v.start);
  });
  VISIT_DIMENSIONS.forEach((d, k) => {
    // A visit stored before a dimension was added has no value for it.
    b.each(at, d.id, b.none, v.values[k] ?? b.none, (c) => {
      c.visits += sign;
      c.pageviews += sign * v.pageviews;
      c.events += sign * v.events;
      b.member(c, v.visitor, sign);
    });
  });
  for (const [dim, page] of [
    [ENTRY.id, v.entry],
    [EXIT.id, v.exit],
  ] as const) {
    if (page === b.none) continue;
    b.each(at, dim, b.none, page, (c) => {
      c.visits += sign;
      b.member(c, v.visitor, sign);
    });
  }
}

/** What the store reports per membership op of a plan. */
export type MemberResult = { inserted: boolean } | { refsAfter: number };

/**
 * Visitor counts from the membership results: an inserted row is a new visitor of its counter's
 * row; a reference count that rose from zero adds one, one that fell to zero takes one away.
 */
export function applyVisitorDeltas<I extends Id>(plan: RollupPlan<I>, results: MemberResult[]): void {
  plan.members.forEach((m, i) => {
    const r = results[i]!;
    if ('inserted' in r) {
      if (r.inserted) m.counter.visitors++;
      return;
    }
    const before = r.refsAfter - m.refs;
    if (before <= 0 && r.refsAfter > 0) m.counter.visitors++;
    else if (before > 0 && r.refsAfter <= 0) m.counter.visitors--;
  });
}

/** Dimensions by id, for adapters and readers. */
export const DIMENSION_BY_ID = new Map(DIMENSIONS.map((d) => [d.id, d]));
