// The write path of the MongoDB store. One transaction per batch, retried whole by
// `withTransaction`: the raw events (their `_id` is the event id, so an event is applied once), a
// lock document per visitor, the stored visits the batch's events can touch, then the rollup plan
// of src/core/plan.ts executed as one bulk write per collection. Ids in the plan are the strings
// themselves ('' = no value); unique keys match long values by their hash (schema.ts valueHash).
// New events older than the retention cutoff the maintenance recorded are not applied (storeRaw).
import type { AnyBulkWriteOperation, ClientSession, Collection, Filter, MongoClient, TransactionOptions } from 'mongodb';
import { IGNORED, TOTAL } from '../../core/dimensions.js';
import { applyVisitorDeltas, planBatch, VisitWindow, type CounterDelta, type PlanEvent, type RollupPlan, type VisitRecord } from '../../core/plan.js';
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
/** The meta document of the retention cutoff (schema.ts MetaDoc). */
export const RETENTION_CUTOFF = 'retention_cutoff_ms';

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
          const { applied, expired } = await session.withTransaction(async (s) => {
            if (++attempts > this.maxAttempts) {
              throw new Error(`applyEvents: transaction not committed after ${this.maxAttempts} attempts (write conflicts)`);
            }
            return this.applyIn(s, unique, opts);
          }, TRANSACTION);
          return { applied, duplicates: events.length - applied - expired.length, ...(expired.length > 0 ? { expired } : {}) };
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

  /** Applies the events not stored yet (ids distinct); returns how many that was, and the expired ones. */
  private async applyIn(s: ClientSession, events: PreparedEvent[], opts: ApplyOptions): Promise<{ applied: number; expired: string[] }> {
    const { news, expired } = await this.storeRaw(s, events, opts.now);
    const bySite = new Map<string, PreparedEvent[]>();
    for (const e of news) {
      const list = bySite.get(e.site_id);
      if (list) list.push(e);
      else bySite.set(e.site_id, [e]);
    }
    for (const [siteId, siteEvents] of [...bySite].sort(([a], [b]) => byString(a, b))) await this.applySite(s, siteId, siteEvents, opts);
    return { applied: news.length, expired };
  }

  /**
   * Inserts the raw events not stored yet (counted ones in `events`, ignored ones in
   * `ignored_events`); returns those, and the new ones older than the retention cutoff, which are
   * not inserted or applied: their raw events may have been deleted already, so one of them may
   * have been counted before (the worker sets them aside). In the transaction's snapshot: a
   * maintenance that recorded a later cutoff after it began deleted raw events after it too, which
   * this snapshot still sees (and inserting one of those ids again conflicts and retries).
   */
  private async storeRaw(s: ClientSession, events: PreparedEvent[], now: number): Promise<{ news: PreparedEvent[]; expired: string[] }> {
    const counted = events.filter((e) => !e.ignored);
    const ignored = events.filter((e) => e.ignored);
    const stored = new Set([...(await storedIds(this.c.events, s, counted)), ...(await storedIds(this.c.ignoredEvents, s, ignored))]);
    const unseen = events.some((e) => !stored.has(e.id));
    const meta = unseen ? await this.c.meta.findOne({ _id: RETENTION_CUTOFF }, { session: s }) : null;
    const cutoff = meta ? Number(meta.value) : -Infinity;
    const at = new Date(now);
    const isNew = (e: PreparedEvent) => !stored.has(e.id) && e.ts >= cutoff;
    const newCounted = counted.filter(isNew);
    const newIgnored = ignored.filter(isNew);
    if (newCounted.length > 0) await this.c.events.insertMany(newCounted.map((e) => eventDoc(e, at)), { session: s, ordered: true });
    if (newIgnored.length > 0) await this.c.ignoredEvents.insertMany(newIgnored.map(ignoredDoc), { session: s, ordered: true });
    return { news: events.filter(isNew), expired: events.filter((e) => !stored.has(e.id) && e.ts < cutoff).map((e) => e.id) };
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

  /**
   * The stored visits the plan needs (PlanInput.visits: those the events can touch and those of
   * the same local days), read as core/plan.ts VisitWindow says.
   */
  private async loadVisits(s: ClientSession, siteId: string, events: PlanEvent<string>[], timeoutMs: number): Promise<Map<string, VisitRecord<string>[]>> {
    const out = new Map<string, VisitRecord<string>[]>();
    if (events.length === 0) return out;
    const visitors = [...new Set(events.map((e) => e.visitor))].sort(byString);
    const w = new VisitWindow(events, timeoutMs);
    const read = async (filter: (part: string[]) => Filter<VisitDoc>) => {
      for (let i = 0; i < visitors.length; i += IN_CHUNK) {
        const docs = await this.c.visits.find(filter(visitors.slice(i, i + IN_CHUNK)), { session: s, projection: { _id: 0, site_id: 0 } }).toArray();
        for (const d of docs) {
          const record = visitRecord(d);
          const list = out.get(record.visitor);
          if (list) list.push(record);
          else out.set(record.visitor, [record]);
        }
      }
    };
    await read((part) => ({ site_id: siteId, visitor: { $in: part }, start_ms: { $lt: w.hi }, $or: [{ start_ms: { $gte: w.lo } }, { last_ms: { $gt: w.from } }] }));
    // A long visit overlapping the batch: the visits of the days before it starts too.
    const missing = w.missingFrom([...out.values()].flat());
    if (missing !== undefined) await read((part) => ({ site_id: siteId, visitor: { $in: part }, start_ms: { $gte: missing, $lt: w.lo }, last_ms: { $lte: w.from } }));
    return out;
  }

  /**
   * Memberships of event-level values, in one bulk write of insert-if-absent upserts
   * (`$setOnInsert`): the upserted ones are new visitors of their row. Exact: another transaction
   * inserting one of these documents after this snapshot makes this one's write conflict and
   * retry. Then the plan's visitor counts follow.
   */
  private async writeMembers(s: ClientSession, siteId: string, plan: RollupPlan<string>, hashes: HashMemo): Promise<void> {
    if (plan.members.length === 0) return;
    const ops: AnyBulkWriteOperation<MemberDoc>[] = plan.members.map((m) => ({
      updateOne: { filter: memberFilter(siteId, m.counter, m.visitor, hashes), update: { $setOnInsert: { refs: 1 } }, upsert: true },
    }));
    const res = await this.c.members.bulkWrite(ops, { session: s, ordered: true });
    const upserted = new Set(Object.keys(res.upsertedIds).map(Number));
    applyVisitorDeltas(plan, plan.members.map((_, i) => upserted.has(i)));
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

export function visitRecord(d: Omit<VisitDoc, 'site_id'>): VisitRecord<string> {
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
