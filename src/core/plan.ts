// The rollup plan: from a batch of new events of one site (their ids already resolved by the store)
// and the stored visits of their visitors, everything the batch changes in the rollups — computed
// once, here, whatever the database. Adapters execute a plan (store/*/) and report which membership
// rows of event-level values were new; `applyVisitorDeltas` turns that into their visitor counters.
// Visitor counters of visit-level values (the visit dimensions, entry and exit pages) are computed
// here from the visit records themselves: the visits are their membership (see visitorDeltas).
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
 * One visitor's membership in a counter's row of an event-level value (totals, page, event,
 * property): inserted if absent, never taken back: the visitor counts once, for good.
 */
export interface MemberOp<I extends Id = Id> {
  counter: CounterDelta<I>;
  visitor: I;
}

export interface RollupPlan<I extends Id = Id> {
  counters: CounterDelta<I>[];
  /** Memberships of event-level values; those of one counter row are adjacent. */
  members: MemberOp<I>[];
  /** Visit records to delete (by visitor and start) and to write. */
  deleteVisits: { visitor: I; start: number }[];
  putVisits: VisitRecord<I>[];
}

export interface PlanInput<I extends Id = Id> {
  events: PlanEvent<I>[];
  /**
   * Per visitor of the batch: every stored visit an event of the batch can touch (ends after its
   * first event − timeout, starts before its last event + timeout), AND every stored visit whose
   * start lies in a local day that holds the start of one of those or of an event (visitor counts
   * of visit-level values compare a visitor's visits per bucket). Adapters read a superset: see
   * `VisitWindow`. More do no harm.
   */
  visits: ReadonlyMap<I, VisitRecord<I>[]>;
  timeoutMs: number;
  bucketsOf: (ts: number) => EventBuckets;
  /** The id of "no value". */
  none: I;
}

export const isBounce = (v: Pick<VisitRecord, 'pageviews' | 'events'>) => v.pageviews === 1 && v.events === 0;

const compare = (a: Id, b: Id) => (a < b ? -1 : a > b ? 1 : 0);

const HOUR_MS = 3_600_000;
/** A local day, DST days included, lies within ±25 h of any instant in it. */
export const DAY_REACH_MS = 25 * HOUR_MS;
/** Visits longer than this that overlap a batch cost adapters a second read (see VisitWindow). */
const LONG_VISIT_MS = 6 * HOUR_MS;

/**
 * Which stored visits an adapter reads for PlanInput.visits, for a batch's events of one site.
 * First read, per visitor: `start < hi and (start >= lo or last > from)`. That holds every visit
 * an event can touch (`overlaps`: last > from and start < to) and every visit starting within 25 h
 * of an event or of such a visit — unless one of those started before lo + 25 h (a visit of more
 * than 6 hours): then `missingFrom` says where a second read, `start >= it and start < lo and
 * last <= from`, begins. The visits of the days of every record the batch changes are then read.
 */
export class VisitWindow {
  /** The events' span widened by the timeout: a visit overlapping it may merge with an event. */
  readonly from: number;
  readonly to: number;
  /** The starts read at once. */
  readonly lo: number;
  readonly hi: number;

  constructor(events: readonly { ts: number }[], timeoutMs: number) {
    let min = Infinity;
    let max = -Infinity;
    for (const e of events) {
      if (e.ts < min) min = e.ts;
      if (e.ts > max) max = e.ts;
    }
    this.from = min - timeoutMs;
    this.to = max + timeoutMs;
    this.lo = this.from - LONG_VISIT_MS - DAY_REACH_MS;
    this.hi = this.to + DAY_REACH_MS;
  }

  overlaps(v: { start: number; last: number }): boolean {
    return v.last > this.from && v.start < this.to;
  }

  /** Where the second read begins, or undefined when the first read holds every visit needed. */
  missingFrom(visits: Iterable<{ start: number; last: number }>): number | undefined {
    let min = Infinity;
    for (const v of visits) if (this.overlaps(v) && v.start < min) min = v.start;
    return min - DAY_REACH_MS < this.lo ? min - DAY_REACH_MS : undefined;
  }
}

/** Dimension ids are below this (the registry has 21): bucket × DIM_SPAN + dim is a unique number. */
const DIM_SPAN = 128;

class Builder<I extends Id> {
  /** Per grain: bucket × DIM_SPAN + dim → scope → value → row. Numbers and ids as keys: no strings built per event. */
  private readonly byGrain = [new Map<number, Map<I, Map<I, CounterDelta<I>>>>(), new Map<number, Map<I, Map<I, CounterDelta<I>>>>()];
  /** Every row, in the order first touched. */
  private readonly rows: CounterDelta<I>[] = [];
  /** Event-level memberships: the visitors of each counter row, once each. */
  private memberMap = new Map<CounterDelta<I>, Set<I>>();

  constructor(readonly none: I) {}

  counter(grain: Grain, bucket: number, dim: number, scope: I, value: I): CounterDelta<I> {
    const byKey = this.byGrain[grain - 1]!;
    const key = bucket * DIM_SPAN + dim;
    let byScope = byKey.get(key);
    if (!byScope) byKey.set(key, (byScope = new Map()));
    let byValue = byScope.get(scope);
    if (!byValue) byScope.set(scope, (byValue = new Map()));
    let c = byValue.get(value);
    if (!c) {
      c = { grain, bucket, dim, scope, value, pageviews: 0, events: 0, visits: 0, bounces: 0, durationMs: 0, visitors: 0, revision: 0 };
      byValue.set(value, c);
      this.rows.push(c);
    }
    return c;
  }

  /** An insert-if-absent membership of an event-level value. */
  member(c: CounterDelta<I>, visitor: I): void {
    const set = this.memberMap.get(c);
    if (set) set.add(visitor);
    else this.memberMap.set(c, new Set([visitor]));
  }

  build(deleteVisits: RollupPlan<I>['deleteVisits'], putVisits: VisitRecord<I>[]): RollupPlan<I> {
    const members: MemberOp<I>[] = [];
    for (const [counter, visitors] of this.memberMap) for (const visitor of visitors) members.push({ counter, visitor });
    // Rows whose only change is their visitors (a visitor moved between values) are kept.
    const isZero = (c: CounterDelta<I>) => !c.pageviews && !c.events && !c.visits && !c.bounces && !c.durationMs && !c.visitors;
    const counters = this.rows.filter((c) => !isZero(c) || this.memberMap.has(c));
    // Every bucket the plan changes gets its totals row's revision bumped (readers' cache check).
    const touched = new Set<CounterDelta<I>>();
    for (const c of counters) {
      const t = this.counter(c.grain, c.bucket, TOTAL.id, this.none, this.none);
      t.revision = 1;
      touched.add(t);
    }
    const all = [...counters.filter((c) => !(c.dim === TOTAL.id && c.scope === this.none && c.value === this.none)), ...touched];
    return { counters: all, members, deleteVisits, putVisits };
  }
}

export function planBatch<I extends Id>(input: PlanInput<I>): RollupPlan<I> {
  const b = new Builder<I>(input.none);
  const events = [...input.events].sort((x, y) => compare(x.visitor, y.visitor) || x.ts - y.ts || compare(x.id, y.id));
  const deleteVisits: RollupPlan<I>['deleteVisits'] = [];
  const putVisits: VisitRecord<I>[] = [];
  // Buckets of visit starts, computed once per start (a timezone lookup each).
  const startBuckets = new Map<number, EventBuckets>();
  const bucketsAt = (ts: number) => {
    let at = startBuckets.get(ts);
    if (!at) startBuckets.set(ts, (at = input.bucketsOf(ts)));
    return at;
  };
  let i = 0;
  while (i < events.length) {
    const visitor = events[i]!.visitor;
    const stored = [...(input.visits.get(visitor) ?? [])].sort((x, y) => x.start - y.start);
    // Records are never changed in place: a merge makes a new one, so the untouched stay identical.
    let records = stored;
    let touched = false;
    for (; i < events.length && events[i]!.visitor === visitor; i++) {
      const e = events[i]!;
      if (e.ignored !== undefined) {
        b.counter(DAY, e.buckets.day, IGNORED.id, input.none, e.ignored).events++;
        b.counter(HOUR, e.buckets.hour, IGNORED.id, input.none, e.ignored).events++;
        continue;
      }
      countEvent(b, e);
      records = addToVisits(records, e, input.timeoutMs, input.none);
      touched = true;
    }
    if (!touched) continue;
    // Records unchanged by the batch cancel out; the others are given back and added anew.
    const kept = new Set(records);
    const gone = stored.filter((s) => !kept.has(s));
    const before = new Set(stored);
    const fresh = records.filter((r) => !before.has(r));
    for (const r of gone) contribute(b, r, -1, bucketsAt(r.start));
    for (const r of fresh) contribute(b, r, 1, bucketsAt(r.start));
    visitorDeltas(b, stored, records, [...gone, ...fresh], bucketsAt);
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
    b.member(c, e.visitor);
  };
  add(b.counter(DAY, e.buckets.day, TOTAL.id, b.none, b.none));
  add(b.counter(HOUR, e.buckets.hour, TOTAL.id, b.none, b.none));
  for (const [dim, scope, value] of e.eventValues) {
    add(b.counter(DAY, e.buckets.day, dim, scope, value));
    add(b.counter(HOUR, e.buckets.hour, dim, scope, value));
  }
}

/** The visitor's visits (sorted by start) with one more event: it joins every visit it is within the timeout of. */
function addToVisits<I extends Id>(records: VisitRecord<I>[], e: PlanEvent<I>, timeoutMs: number, none: I): VisitRecord<I>[] {
  let merged: VisitRecord<I> = {
    visitor: e.visitor,
    start: e.ts,
    last: e.ts,
    values: e.visitValues, // shared, never changed: records are replaced, not edited
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
    values: first.values,
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
 * visits, bounces and duration; per visit dimension its visits, page views and custom events; its
 * entry and exit pages. Visitors of these rows: visitorDeltas.
 */
function contribute<I extends Id>(b: Builder<I>, v: VisitRecord<I>, sign: 1 | -1, at: EventBuckets): void {
  const bounce = isBounce(v) ? sign : 0;
  const duration = sign * (v.last - v.start);
  for (const grain of GRAINS) {
    const bucket = grain === DAY ? at.day : at.hour;
    const t = b.counter(grain, bucket, TOTAL.id, b.none, b.none);
    t.visits += sign;
    t.bounces += bounce;
    t.durationMs += duration;
    for (let slot = 0; slot < SLOT_DIMS.length; slot++) {
      const value = slotValue(v, slot, b.none);
      if (slot >= ENTRY_SLOT && value === b.none) continue; // no page view: no entry or exit page
      const c = b.counter(grain, bucket, SLOT_DIMS[slot]!, b.none, value);
      c.visits += sign;
      if (slot < ENTRY_SLOT) {
        c.pageviews += sign * v.pageviews;
        c.events += sign * v.events;
      }
    }
  }
}

const GRAINS = [DAY, HOUR] as const;

/** The visit-level dimensions, as slots of a visit: the visit dimensions in registry order, then entry and exit. */
const SLOT_DIMS = [...VISIT_DIMENSIONS.map((d) => d.id), ENTRY.id, EXIT.id];
const ENTRY_SLOT = VISIT_DIMENSIONS.length;

/** A visit's value in a slot; a visit stored before a dimension was added has none for it. */
function slotValue<I extends Id>(v: VisitRecord<I>, slot: number, none: I): I {
  if (slot < ENTRY_SLOT) return v.values[slot] ?? none;
  return slot === ENTRY_SLOT ? v.entry : v.exit;
}

/**
 * Visitors of visit-level values. A visitor counts for a value in a bucket while one of its visits
 * starting in that bucket has the value (entry and exit pages: `none` is no row). For each bucket
 * holding the start of a record the batch gave back or added, the visitor's values over its stored
 * records starting there (before) are compared with those over its records after the batch:
 * `visitors += (in after) − (in before)`.
 */
function visitorDeltas<I extends Id>(
  b: Builder<I>,
  stored: VisitRecord<I>[],
  after: VisitRecord<I>[],
  changed: VisitRecord<I>[],
  bucketsAt: (ts: number) => EventBuckets,
): void {
  for (const grain of GRAINS) {
    const bucketOf = (v: VisitRecord<I>) => (grain === DAY ? bucketsAt(v.start).day : bucketsAt(v.start).hour);
    const done: number[] = [];
    for (const r of changed) {
      const bucket = bucketOf(r);
      if (done.includes(bucket)) continue;
      done.push(bucket);
      const was = stored.filter((v) => bucketOf(v) === bucket);
      const now = after.filter((v) => bucketOf(v) === bucket);
      for (let slot = 0; slot < SLOT_DIMS.length; slot++) {
        const dim = SLOT_DIMS[slot]!;
        // +1 for each value (once) that the visits after have and the visits before had not; -1 the other way.
        for (let i = 0; i < now.length; i++) {
          const value = slotValue(now[i]!, slot, b.none);
          if ((slot >= ENTRY_SLOT && value === b.none) || holds(now, i, slot, value, b.none) || holds(was, was.length, slot, value, b.none)) continue;
          b.counter(grain, bucket, dim, b.none, value).visitors++;
        }
        for (let i = 0; i < was.length; i++) {
          const value = slotValue(was[i]!, slot, b.none);
          if ((slot >= ENTRY_SLOT && value === b.none) || holds(was, i, slot, value, b.none) || holds(now, now.length, slot, value, b.none)) continue;
          b.counter(grain, bucket, dim, b.none, value).visitors--;
        }
      }
    }
  }
}

/** Whether one of the first `n` visits has this value in the slot (a visitor has a few visits a bucket). */
function holds<I extends Id>(visits: VisitRecord<I>[], n: number, slot: number, value: I, none: I): boolean {
  for (let i = 0; i < n; i++) if (slotValue(visits[i]!, slot, none) === value) return true;
  return false;
}

/**
 * Visitor counts of event-level values from the membership results: a row the store inserted
 * (`inserted[i]` for plan.members[i]) is a new visitor of its counter's row.
 */
export function applyVisitorDeltas<I extends Id>(plan: RollupPlan<I>, inserted: readonly boolean[]): void {
  plan.members.forEach((m, i) => {
    if (inserted[i]) m.counter.visitors++;
  });
}

if (DIMENSIONS.some((d) => d.id >= DIM_SPAN)) throw new Error(`plan.ts: dimension ids must stay below ${DIM_SPAN}`);

/** Dimensions by id, for adapters and readers. */
export const DIMENSION_BY_ID = new Map(DIMENSIONS.map((d) => [d.id, d]));

/** Whether a dimension's memberships are derived from visit records (not member rows). */
export const isVisitLevel = (dim: number) => SLOT_DIMS.includes(dim);

/** The slot of a visit-level dimension in a visit: its VISIT_DIMENSIONS index, or entry / exit. */
export const slotOf = (dim: number) => SLOT_DIMS.indexOf(dim);
export { ENTRY_SLOT, SLOT_DIMS };
