// The write path of the MongoDB store. One transaction per batch, retried whole by
// `withTransaction`: the raw events (their `_id` is the event id, so an event is applied once), a
// lock document per visitor, the stored visits the batch's events can touch, then the rollup plan
// of src/core/plan.ts executed as one bulk write per collection. Ids in the plan are the strings
// themselves ('' = no value); unique keys match long values by their hash (schema.ts valueHash).
import type { AnyBulkWriteOperation, ClientSession, Collection, Filter, MongoClient, TransactionOptions } from 'mongodb';
import { IGNORED, TOTAL } from '../../core/dimensions.js';
import { applyVisitorDeltas, planBatch, type CounterDelta, type MemberOp, type MemberResult, type PlanEvent, type RollupPlan, type VisitRecord } from '../../core/plan.js';
import { bucketNumbers } from '../../core/time.js';
import { visitorKind } from '../../core/visitor.js';
import type { ApplyOptions, ApplyResult, PreparedEvent } from '../port.js';
import {
  DERIVED_FIELDS,
  NONE,
  valueHash,
  type Collections,
  type EventDoc,
  type IgnoredEventDoc,
  type MemberDoc,
  type RollupDoc,
  type VisitDoc,
  type VisitorDoc,
} from './schema.js';

/** Ids per `find` with `$in`: keeps each command far below the 16 MB document limit. */
const IN_CHUNK = 10_000;
/** Reference-count reads: visitors per `$or` branch, branches per `find`. */
const REFS_VISITORS = 1_000;
const REFS_BRANCHES = 100;

// Snapshot reads make the "already stored?" check, the visits read and the writes one consistent
// view; majority commit means an applied batch survives a failover, so the queue may forget the job.
export const TRANSACTION: TransactionOptions = {
  readConcern: { level: 'snapshot' },
  writeConcern: { w: 'majority' },
  readPreference: 'primary',
};

export const isDuplicateKey = (err: unknown) => (err as { code?: unknown } | null)?.code === 11000;

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export class MongoWriter {
  constructor(
    private readonly client: MongoClient,
    private readonly c: Collections,
    /** Transaction attempts per batch (write conflicts between workers retry). */
    private readonly maxAttempts: number,
  ) {}

  async apply(events: PreparedEvent[], opts: ApplyOptions): Promise<ApplyResult> {
    if (events.length === 0) return { applied: 0, duplicates: 0 };
    const unique = [...new Map(events.map((e) => [e.id, e])).values()];
    let attempts = 0;
    const session = this.client.startSession();
    try {
      for (;;) {
        try {
          // withTransaction retries the callback on TransientTransactionError (write conflicts with
          // another worker) with backoff; the attempt count keeps that bounded.
          const applied = await session.withTransaction(async (s) => {
            if (++attempts > this.maxAttempts) {
              throw new Error(`applyEvents: transaction not committed after ${this.maxAttempts} attempts (write conflicts)`);
            }
            return this.applyIn(s, unique, opts);
          }, TRANSACTION);
          return { applied, duplicates: events.length - applied };
        } catch (err) {
          // A concurrent transaction committed one of these event ids after our snapshot: retry,
          // and the next attempt sees it as already stored.
          if (isDuplicateKey(err) && attempts < this.maxAttempts) continue;
          throw err;
        }
      }
    } finally {
      await session.endSession();
    }
  }

  /** Applies the events not stored yet (ids distinct); returns how many that was. */
  private async applyIn(s: ClientSession, events: PreparedEvent[], opts: ApplyOptions): Promise<number> {
    const news = await this.storeRaw(s, events, opts.now);
    const bySite = new Map<string, PreparedEvent[]>();
    for (const e of news) {
      const list = bySite.get(e.site_id);
      if (list) list.push(e);
      else bySite.set(e.site_id, [e]);
    }
    for (const [siteId, siteEvents] of [...bySite].sort(([a], [b]) => byString(a, b))) await this.applySite(s, siteId, siteEvents, opts);
    return news.length;
  }

  /** Inserts the raw events not stored yet (counted ones in `events`, ignored ones in `ignored_events`); returns those. */
  private async storeRaw(s: ClientSession, events: PreparedEvent[], now: number): Promise<PreparedEvent[]> {
    const counted = events.filter((e) => !e.ignored);
    const ignored = events.filter((e) => e.ignored);
    const stored = new Set([...(await storedIds(this.c.events, s, counted)), ...(await storedIds(this.c.ignoredEvents, s, ignored))]);
    const at = new Date(now);
    const newCounted = counted.filter((e) => !stored.has(e.id));
    const newIgnored = ignored.filter((e) => !stored.has(e.id));
    if (newCounted.length > 0) await this.c.events.insertMany(newCounted.map((e) => eventDoc(e, at)), { session: s, ordered: true });
    if (newIgnored.length > 0) await this.c.ignoredEvents.insertMany(newIgnored.map(ignoredDoc), { session: s, ordered: true });
    return events.filter((e) => !stored.has(e.id));
  }

  private async applySite(s: ClientSession, siteId: string, events: PreparedEvent[], opts: ApplyOptions): Promise<void> {
    const timezone = events[0]!.timezone;
    const planEvents = events.map(planEvent);
    await this.lockVisitors(s, siteId, events.filter((e) => !e.ignored));
    const visits = await this.loadVisits(s, siteId, planEvents.filter((e) => e.ignored === undefined), opts.sessionTimeoutMs);
    const plan = planBatch<string>({
      events: planEvents,
      visits,
      timeoutMs: opts.sessionTimeoutMs,
      bucketsOf: (ts) => bucketNumbers(ts, timezone),
      none: NONE,
    });
    const hashes = new HashMemo();
    await this.writeMembers(s, siteId, plan, hashes);
    await this.writeRollups(s, siteId, plan, hashes);
    await this.writeVisits(s, siteId, plan);
  }

  /**
   * Upserts each visitor's lock document with `$inc`: a second transaction touching one of these
   * visitors conflicts with this one until it commits, then retries and sees its visits. A hashed
   * visitor keeps its salt date, so retention can prune it.
   */
  private async lockVisitors(s: ClientSession, siteId: string, events: PreparedEvent[]): Promise<void> {
    const day = new Map<string, number | null>();
    for (const e of events) if (!day.has(e.visitor)) day.set(e.visitor, visitorKind(e.visitor) === 'given' ? null : e.buckets.day);
    if (day.size === 0) return;
    const ops: AnyBulkWriteOperation<VisitorDoc>[] = [...day]
      .sort(([a], [b]) => byString(a, b))
      .map(([visitor, d]) => ({
        updateOne: { filter: { site_id: siteId, visitor }, update: { $inc: { batches: 1 }, $setOnInsert: { day: d } }, upsert: true },
      }));
    await this.c.visitors.bulkWrite(ops, { session: s, ordered: true });
  }

  /** The stored visits of the events' visitors that end after (first event − timeout) and start before (last event + timeout). */
  private async loadVisits(s: ClientSession, siteId: string, events: PlanEvent<string>[], timeoutMs: number): Promise<Map<string, VisitRecord<string>[]>> {
    const out = new Map<string, VisitRecord<string>[]>();
    if (events.length === 0) return out;
    const visitors = [...new Set(events.map((e) => e.visitor))].sort(byString);
    let from = Infinity;
    let to = -Infinity;
    for (const e of events) {
      from = Math.min(from, e.ts - timeoutMs);
      to = Math.max(to, e.ts + timeoutMs);
    }
    for (let i = 0; i < visitors.length; i += IN_CHUNK) {
      const part = visitors.slice(i, i + IN_CHUNK);
      const docs = await this.c.visits
        .find({ site_id: siteId, visitor: { $in: part }, last_ms: { $gt: from }, start_ms: { $lt: to } }, { session: s, projection: { _id: 0, site_id: 0 } })
        .toArray();
      for (const d of docs) {
        const record = visitRecord(d);
        const list = out.get(record.visitor);
        if (list) list.push(record);
        else out.set(record.visitor, [record]);
      }
    }
    return out;
  }

  /**
   * Memberships, in one bulk write: refs 0 is insert-if-absent (`$setOnInsert`; the upserted ones
   * are new visitors of their row), ±n a reference count (`$inc`), whose value before the write is
   * read first. Exact: another transaction changing one of these documents after this snapshot
   * makes this one's write conflict and retry. Then the plan's visitor counts follow.
   */
  private async writeMembers(s: ClientSession, siteId: string, plan: RollupPlan<string>, hashes: HashMemo): Promise<void> {
    if (plan.members.length === 0) return;
    const before = await this.readRefs(s, siteId, plan.members.filter((m) => m.refs !== 0));
    const ops: AnyBulkWriteOperation<MemberDoc>[] = plan.members.map((m) => {
      const filter = memberFilter(siteId, m.counter, m.visitor, hashes);
      return m.refs === 0
        ? { updateOne: { filter, update: { $setOnInsert: { refs: 1 } }, upsert: true } }
        : { updateOne: { filter, update: { $inc: { refs: m.refs } }, upsert: true } };
    });
    const res = await this.c.members.bulkWrite(ops, { session: s, ordered: true });
    const upserted = new Set(Object.keys(res.upsertedIds).map(Number));
    const results: MemberResult[] = plan.members.map((m, i) =>
      m.refs === 0 ? { inserted: upserted.has(i) } : { refsAfter: (before.get(memberKey(m.counter, m.visitor, hashes)) ?? 0) + m.refs },
    );
    applyVisitorDeltas(plan, results);
  }

  /**
   * The stored reference counts of these ops: one `$or` branch per bucket, holding the visitors and
   * dimensions of that bucket's ops, so each branch is a tight range of the unique index (the
   * visitor comes before the value). It finds a superset of the ops' documents, matched by key; an
   * absent document counts 0.
   */
  private async readRefs(s: ClientSession, siteId: string, ops: MemberOp<string>[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const buckets = new Map<string, { grain: number; bucket: number; dims: Set<number>; scopes: Set<string>; visitors: Set<string> }>();
    for (const m of ops) {
      const k = `${m.counter.grain}|${m.counter.bucket}`;
      let b = buckets.get(k);
      if (!b) buckets.set(k, (b = { grain: m.counter.grain, bucket: m.counter.bucket, dims: new Set(), scopes: new Set(), visitors: new Set() }));
      b.dims.add(m.counter.dim);
      b.scopes.add(m.counter.scope);
      b.visitors.add(m.visitor);
    }
    const branches: Filter<MemberDoc>[] = [];
    const ordered = [...buckets.values()].sort((a, b) => a.grain - b.grain || a.bucket - b.bucket);
    for (const b of ordered) {
      const visitors = [...b.visitors].sort(byString);
      for (let i = 0; i < visitors.length; i += REFS_VISITORS) {
        branches.push({
          site_id: siteId,
          grain: b.grain,
          dim: { $in: [...b.dims].sort((x, y) => x - y) },
          scope: { $in: [...b.scopes].sort(byString) },
          bucket: b.bucket,
          visitor: { $in: visitors.slice(i, i + REFS_VISITORS) },
        });
      }
    }
    for (let i = 0; i < branches.length; i += REFS_BRANCHES) {
      const docs = await this.c.members
        .find(
          { $or: branches.slice(i, i + REFS_BRANCHES) },
          { session: s, projection: { _id: 0, grain: 1, dim: 1, scope: 1, bucket: 1, visitor: 1, value_hash: 1, refs: 1 } },
        )
        .toArray();
      for (const d of docs) out.set(keyOf(Number(d.grain), Number(d.bucket), d.dim, d.scope, d.value_hash, d.visitor), Number(d.refs));
    }
    return out;
  }

  /** Counters, `$inc` upserts in one bulk write; the totals and ignored rows, which every batch of the site touches, last. */
  private async writeRollups(s: ClientSession, siteId: string, plan: RollupPlan<string>, hashes: HashMemo): Promise<void> {
    const hot = (c: CounterDelta<string>) => c.dim === TOTAL.id || c.dim === IGNORED.id;
    const ordered = [...plan.counters.filter((c) => !hot(c)), ...plan.counters.filter(hot)];
    if (ordered.length === 0) return;
    const ops: AnyBulkWriteOperation<RollupDoc>[] = ordered.map((c) => ({
      updateOne: {
        filter: { site_id: siteId, grain: c.grain, dim: c.dim, scope: c.scope, bucket: c.bucket, value_hash: hashes.of(c.value) },
        update: {
          $inc: {
            pageviews: c.pageviews,
            events: c.events,
            visitors: c.visitors,
            visits: c.visits,
            bounces: c.bounces,
            duration_ms: c.durationMs,
            revision: c.revision,
          },
          $setOnInsert: { value: c.value },
        },
        upsert: true,
      },
    }));
    await this.c.rollups.bulkWrite(ops, { session: s, ordered: true });
  }

  /** Visit records: the plan's deletes, then its puts (replacing a record with the same start). */
  private async writeVisits(s: ClientSession, siteId: string, plan: RollupPlan<string>): Promise<void> {
    const ops: AnyBulkWriteOperation<VisitDoc>[] = [
      ...plan.deleteVisits.map((d) => ({ deleteOne: { filter: { site_id: siteId, visitor: d.visitor, start_ms: d.start } } })),
      ...plan.putVisits.map((v) => ({
        replaceOne: { filter: { site_id: siteId, visitor: v.visitor, start_ms: v.start }, replacement: visitDoc(siteId, v), upsert: true },
      })),
    ];
    if (ops.length === 0) return;
    await this.c.visits.bulkWrite(ops, { session: s, ordered: true });
  }
}

/** Value hashes, computed once per value in a batch (the same page appears in many rows). */
class HashMemo {
  private map = new Map<string, string>();
  of(value: string): string {
    let h = this.map.get(value);
    if (h === undefined) this.map.set(value, (h = valueHash(value)));
    return h;
  }
}

async function storedIds<T extends { _id: string }>(coll: Collection<T>, s: ClientSession, events: PreparedEvent[]): Promise<string[]> {
  const ids = events.map((e) => e.id);
  const stored: string[] = [];
  for (let i = 0; i < ids.length; i += IN_CHUNK) {
    const part = ids.slice(i, i + IN_CHUNK);
    const docs = await coll.find({ _id: { $in: part } } as Filter<T>, { session: s, projection: { _id: 1 }, batchSize: part.length }).toArray();
    for (const d of docs) stored.push(d._id);
  }
  return stored;
}

/** An event for the plan: the strings themselves as ids, null as ''. */
function planEvent(e: PreparedEvent): PlanEvent<string> {
  const id = (v: string | null) => v ?? NONE;
  return {
    id: e.id,
    ts: e.ts,
    visitor: e.ignored ? NONE : e.visitor,
    isPageview: e.is_pageview,
    buckets: e.buckets,
    page: e.is_pageview ? e.path : NONE,
    eventValues: e.eventValues.map(([dim, scope, value]) => [dim, scope, id(value)]),
    visitValues: e.visitValues.map(id),
    ...(e.ignored ? { ignored: e.ignored } : {}),
  };
}

function memberFilter(siteId: string, c: CounterDelta<string>, visitor: string, hashes: HashMemo): Filter<MemberDoc> {
  return { site_id: siteId, grain: c.grain, dim: c.dim, scope: c.scope, bucket: c.bucket, visitor, value_hash: hashes.of(c.value) };
}

// Only ever a Map key in memory, never a field name; JSON keeps the parts apart whatever they hold.
const keyOf = (grain: number, bucket: number, dim: number, scope: string, hash: string, visitor: string) => JSON.stringify([grain, bucket, dim, scope, hash, visitor]);
const memberKey = (c: CounterDelta<string>, visitor: string, hashes: HashMemo) => keyOf(c.grain, c.bucket, c.dim, c.scope, hashes.of(c.value), visitor);

function visitRecord(d: Omit<VisitDoc, 'site_id'>): VisitRecord<string> {
  return {
    visitor: d.visitor,
    start: Number(d.start_ms),
    last: Number(d.last_ms),
    values: d.vals,
    entry: d.entry,
    entryTs: Number(d.entry_ms),
    exit: d.exit,
    exitTs: Number(d.exit_ms),
    pageviews: Number(d.pageviews),
    events: Number(d.events),
  };
}

function visitDoc(siteId: string, v: VisitRecord<string>): VisitDoc {
  return {
    site_id: siteId,
    visitor: v.visitor,
    start_ms: v.start,
    last_ms: v.last,
    vals: v.values,
    entry: v.entry,
    entry_ms: v.entryTs,
    exit: v.exit,
    exit_ms: v.exitTs,
    pageviews: v.pageviews,
    events: v.events,
  };
}

export function eventDoc(e: PreparedEvent, processedAt: Date): EventDoc {
  const doc: EventDoc = {
    _id: e.id,
    site_id: e.site_id,
    event_type: e.type,
    path: e.path,
    user_id: e.user_id,
    visitor: e.visitor,
    is_pageview: e.is_pageview,
    timestamp: new Date(e.ts),
    received_at: new Date(e.received_at),
    processed_at: processedAt,
  };
  if (e.props) doc.props = Object.entries(e.props).map(([key, value]) => ({ key, value }));
  const dims: EventDoc['dims'] = {};
  let any = false;
  for (const k of DERIVED_FIELDS) {
    const v = e[k];
    if (v !== null) {
      dims[k] = v;
      any = true;
    }
  }
  if (any) doc.dims = dims;
  return doc;
}

export function ignoredDoc(e: PreparedEvent): IgnoredEventDoc {
  return {
    _id: e.id,
    site_id: e.site_id,
    reason: e.ignored!,
    event_type: e.type,
    path: e.path,
    timestamp: new Date(e.ts),
    received_at: new Date(e.received_at),
  };
}
