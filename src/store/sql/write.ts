// The write path of the SQL stores. In one transaction per batch: the raw events (their ids make
// applying idempotent), the dictionary ids of their visitors and values, the current visits of
// their visitors (locked), then the rollup plan of src/core/plan.ts executed as one bulk write per
// table (bulk.ts). Work is grouped per site, because a batch usually holds one. New events older
// than the retention cutoff the maintenance recorded are not applied (see expiredAmong).
import { sql, type Kysely, type Transaction } from 'kysely';
import { IGNORED } from '../../core/dimensions.js';
import { applyVisitorDeltas, planBatch, VisitWindow, type PlanEvent, type RollupPlan, type VisitRecord } from '../../core/plan.js';
import { bucketNumbers } from '../../core/time.js';
import { visitorKind } from '../../core/visitor.js';
import { pathHash as valueHash } from '../path-hash.js';
import { UnstorableDataError, type ApplyOptions, type ApplyResult, type PreparedEvent } from '../port.js';
import type { Bulk, Table, Value } from './bulk.js';
import type { Database, Dialect } from './schema.js';

type Trx = Transaction<Database>;

/**
 * Bounded, insert-only memory of committed facts that never change, per site (keys without the
 * site in them: no string building with the site on the per-event path).
 */
class CommittedCache<K, V> {
  private sites = new Map<string, Map<K, V>>();
  private size = 0;
  constructor(private limit: number) {}
  of(siteId: string): ReadonlyMap<K, V> {
    return this.sites.get(siteId) ?? (EMPTY as ReadonlyMap<K, V>);
  }
  addAll(siteId: string, entries: [K, V][]): void {
    if (entries.length === 0) return;
    if (this.size + entries.length > this.limit) {
      this.sites.clear();
      this.size = 0;
    }
    let map = this.sites.get(siteId);
    if (!map) this.sites.set(siteId, (map = new Map()));
    for (const [k, v] of entries) {
      if (!map.has(k)) this.size++;
      map.set(k, v);
    }
  }
}
const EMPTY: ReadonlyMap<never, never> = new Map<never, never>();

/**
 * Membership rows known to be stored, per site and counter row: the visitors of each. A day sees
 * each visitor again and again, and a counter row's key is built once per batch, not per member.
 */
class KnownMembers {
  private sites = new Map<string, Map<string, Set<number>>>();
  private size = 0;
  constructor(private limit: number) {}
  of(siteId: string): ReadonlyMap<string, ReadonlySet<number>> {
    return this.sites.get(siteId) ?? EMPTY;
  }
  addAll(siteId: string, entries: [string, number][]): void {
    if (entries.length === 0) return;
    if (this.size + entries.length > this.limit) {
      this.sites.clear();
      this.size = 0;
    }
    let rows = this.sites.get(siteId);
    if (!rows) this.sites.set(siteId, (rows = new Map()));
    for (const [row, visitor] of entries) {
      let visitors = rows.get(row);
      if (!visitors) rows.set(row, (visitors = new Set()));
      if (!visitors.has(visitor)) {
        visitors.add(visitor);
        this.size++;
      }
    }
  }
}

const VISITORS: Table = { name: 'visitors', columns: ['site_id', 'visitor_key', 'day'], types: ['text', 'text', 'bigint'], key: ['site_id', 'visitor_key'] };
const DICTIONARY: Table = { name: 'dictionary', columns: ['site_id', 'value_hash', 'value'], types: ['text', 'text', 'text'], key: ['site_id', 'value_hash'] };
const BUCKET_KEY = ['site_id', 'grain', 'bucket', 'dim', 'scope', 'value'];
const COUNTERS = ['pageviews', 'events', 'visitors', 'visits', 'bounces', 'duration_ms', 'revision'];
const ROLLUPS: Table = { name: 'rollups', columns: [...BUCKET_KEY, ...COUNTERS], types: ['text', ...Array<'bigint'>(12).fill('bigint')], key: BUCKET_KEY };
const MEMBERS: Table = {
  name: 'members',
  columns: [...BUCKET_KEY, 'visitor_id', 'refs'],
  types: ['text', ...Array<'bigint'>(7).fill('bigint')],
  // refs is always 1 now (insert if absent); version 2 kept reference counts here (read.ts).
  key: [...BUCKET_KEY, 'visitor_id'],
};
const VISIT_COLUMNS = ['last_ms', 'vals', 'entry_id', 'entry_ms', 'exit_id', 'exit_ms', 'pageviews', 'events'];
const VISITS: Table = {
  name: 'visits',
  columns: ['site_id', 'visitor_id', 'start_ms', ...VISIT_COLUMNS],
  types: ['text', 'bigint', 'bigint', 'bigint', 'text', 'bigint', 'bigint', 'bigint', 'bigint', 'bigint', 'bigint'],
  key: ['site_id', 'visitor_id', 'start_ms'],
};

/** What a transaction learned, per site; remembered only once it has committed. */
interface Learned {
  visitorIds: Map<string, [string, number][]>;
  valueIds: Map<string, [string, number][]>;
  members: Map<string, [string, number][]>;
}

function learn<K, V>(into: Map<string, [K, V][]>, siteId: string): [K, V][] {
  let list = into.get(siteId);
  if (!list) into.set(siteId, (list = []));
  return list;
}

const rowKey = (c: { grain: number; bucket: number; dim: number; scope: number; value: number }) => `${c.grain}|${c.bucket}|${c.dim}|${c.scope}|${c.value}`;

export class SqlWriter {
  private visitorIds = new CommittedCache<string, number>(500_000);
  private valueIds = new CommittedCache<string, number>(500_000);
  /** Membership rows (insert-if-absent) known to be stored: a day sees each visitor again and again. */
  private knownMembers = new KnownMembers(2_000_000);
  private events: Table;
  private ignored: Table;

  constructor(
    private db: Kysely<Database>,
    private dialect: Dialect,
    private bulk: Bulk,
    private isRetryable: (err: unknown) => boolean,
  ) {
    const id = dialect === 'postgres' ? 'uuid' : 'text'; // PostgreSQL keeps the UUIDs natively (16 bytes)
    this.events = {
      name: 'events',
      columns: ['event_id', 'site_id', 'event_type', 'path', 'user_id', 'visitor_id', 'timestamp_ms', 'received_at_ms', 'processed_at_ms', 'props', 'dims'],
      types: [id, 'text', 'text', 'text', 'text', 'bigint', 'bigint', 'bigint', 'bigint', 'text', 'text'],
      key: ['event_id'],
    };
    this.ignored = {
      name: 'ignored_events',
      columns: ['event_id', 'site_id', 'reason', 'event_type', 'path', 'timestamp_ms', 'received_at_ms'],
      types: [id, 'text', 'text', 'text', 'text', 'bigint', 'bigint'],
      key: ['event_id'],
    };
  }

  async apply(events: PreparedEvent[], opts: ApplyOptions): Promise<ApplyResult> {
    const unique = [...new Map(events.map((e) => [e.id, e])).values()];
    for (let attempt = 1; ; attempt++) {
      const learned: Learned = { visitorIds: new Map(), valueIds: new Map(), members: new Map() };
      try {
        const { applied, expired } = await this.db.transaction().execute((trx) => this.applyIn(trx, unique, opts, learned));
        for (const [site, entries] of learned.visitorIds) this.visitorIds.addAll(site, entries);
        for (const [site, entries] of learned.valueIds) this.valueIds.addAll(site, entries);
        for (const [site, entries] of learned.members) this.knownMembers.addAll(site, entries);
        return { applied, duplicates: events.length - applied - expired.length, ...(expired.length > 0 ? { expired } : {}) };
      } catch (err) {
        // Deadlocks and busy files roll the whole transaction back: trying again is safe.
        if (attempt >= 5 || !this.isRetryable(err)) throw err;
        await new Promise((r) => setTimeout(r, 10 * attempt + Math.random() * 20));
      }
    }
  }

  /**
   * PostgreSQL locks rows in the order a statement writes them: writing every statement's rows in
   * one total order keeps concurrent workers from deadlocking. SQLite has a single writer.
   */
  private ordered<T extends Value[]>(rows: T[]): T[] {
    return this.dialect === 'postgres' ? rows.sort(compareRows) : rows;
  }

  private async applyIn(trx: Trx, events: PreparedEvent[], opts: ApplyOptions, learned: Learned): Promise<{ applied: number; expired: string[] }> {
    const bySite = new Map<string, PreparedEvent[]>();
    for (const e of events) {
      const list = bySite.get(e.site_id);
      if (list) list.push(e);
      else bySite.set(e.site_id, [e]);
    }
    let applied = 0;
    const expired: string[] = [];
    for (const [siteId, siteEvents] of [...bySite].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const r = await this.applySite(trx, siteId, siteEvents, opts, learned);
      applied += r.applied;
      expired.push(...r.expired);
    }
    return { applied, expired };
  }

  private async applySite(trx: Trx, siteId: string, events: PreparedEvent[], opts: ApplyOptions, learned: Learned): Promise<{ applied: number; expired: string[] }> {
    const counted = events.filter((e) => !e.ignored);
    const ignored = events.filter((e) => e.ignored);
    const vid = await this.resolveVisitors(trx, siteId, counted, learned);

    // Raw events first: the ones already stored were applied before and are skipped.
    const rawRows = this.ordered(
      counted.map((e) => [e.id, e.site_id, e.type, e.path, e.user_id ?? '', vid.get(e.visitor)!, e.ts, e.received_at, opts.now, e.props ? JSON.stringify(e.props) : null, dimsJson(e)]),
    );
    const ignoredRows = this.ordered(ignored.map((e) => [e.id, e.site_id, e.ignored!, e.type, e.path, e.ts, e.received_at]));
    const fresh = new Set<string>();
    const rawNew = await this.bulk.insertNew(trx, this.events, rawRows);
    rawRows.forEach((r, i) => rawNew[i] && fresh.add(r[0] as string));
    const ignoredNew = await this.bulk.insertNew(trx, this.ignored, ignoredRows);
    ignoredRows.forEach((r, i) => ignoredNew[i] && fresh.add(r[0] as string));
    if (fresh.size === 0) return { applied: 0, expired: [] };
    const expired = await this.expiredAmong(trx, events.filter((e) => fresh.has(e.id)));
    for (const id of expired) fresh.delete(id);
    if (fresh.size === 0) return { applied: 0, expired };
    const news = events.filter((e) => fresh.has(e.id));

    const ids = await this.resolveValues(trx, siteId, news, learned);
    const id = (v: string | null) => (v === null ? 0 : ids.get(v)!);
    const planEvents: PlanEvent<number>[] = news.map((e) => ({
      id: e.id,
      ts: e.ts,
      visitor: e.ignored ? 0 : vid.get(e.visitor)!,
      isPageview: e.is_pageview,
      buckets: e.buckets,
      page: e.is_pageview ? id(e.path) : 0,
      eventValues: e.eventValues.map(([dim, scope, value]) => [dim, scope === '' ? 0 : id(scope), id(value)]),
      visitValues: e.visitValues.map(id),
      ...(e.ignored ? { ignored: id(e.ignored) } : {}),
    }));
    const timezone = news[0]!.timezone;
    const visits = await this.lockVisits(trx, siteId, planEvents.filter((e) => e.ignored === undefined), opts.sessionTimeoutMs);
    const plan = planBatch<number>({
      events: planEvents,
      visits,
      timeoutMs: opts.sessionTimeoutMs,
      bucketsOf: (ts) => bucketNumbers(ts, timezone),
      none: 0,
    });
    await this.execute(trx, siteId, plan, learned);
    return { applied: news.length, expired };
  }

  /**
   * New events older than the retention cutoff the maintenance recorded (`meta`
   * retention_cutoff_ms): their raw events may have been deleted already, so one of them may have
   * been counted before and cannot be told from a new one. They are taken out again and not
   * applied; the worker sets them aside. Read after the raw inserts, in this transaction: an event
   * whose raw row the maintenance deleted was inserted after that delete committed, so after the
   * cutoff it recorded first (PostgreSQL reads committed data per statement).
   */
  private async expiredAmong(trx: Trx, fresh: PreparedEvent[]): Promise<string[]> {
    const row = await trx.selectFrom('meta').select('value').where('key', '=', RETENTION_CUTOFF).executeTakeFirst();
    if (!row) return [];
    const cutoff = Number(row.value);
    const old = fresh.filter((e) => e.ts < cutoff);
    for (const [table, list] of [
      ['events', old.filter((e) => !e.ignored)],
      ['ignored_events', old.filter((e) => e.ignored)],
    ] as const) {
      for (let i = 0; i < list.length; i += 5000) {
        await trx.deleteFrom(table).where('event_id', 'in', list.slice(i, i + 5000).map((e) => e.id)).execute();
      }
    }
    return old.map((e) => e.id);
  }

  /** Visitor ids; a hashed visitor is stored with its salt date, so retention can prune it. */
  private async resolveVisitors(trx: Trx, siteId: string, events: PreparedEvent[], learned: Learned): Promise<Map<string, number>> {
    const day = new Map<string, number | null>();
    for (const e of events) if (!day.has(e.visitor)) day.set(e.visitor, visitorKind(e.visitor) === 'given' ? null : e.buckets.day);
    return this.resolveIds(trx, siteId, VISITORS, 'visitor_id', [...day.keys()], this.visitorIds.of(siteId), learn(learned.visitorIds, siteId), (k) => [siteId, k, day.get(k)!], (k) => k);
  }

  /** Dictionary ids of every string the batch's rollups refer to. */
  private async resolveValues(trx: Trx, siteId: string, events: PreparedEvent[], learned: Learned): Promise<Map<string, number>> {
    const values = new Set<string>();
    for (const e of events) {
      if (e.ignored) {
        values.add(e.ignored);
        continue;
      }
      values.add(e.path);
      for (const [, scope, value] of e.eventValues) {
        if (scope !== '') values.add(scope);
        if (value !== null) values.add(value);
      }
      for (const v of e.visitValues) if (v !== null) values.add(v);
    }
    return this.resolveIds(trx, siteId, DICTIONARY, 'value_id', [...values], this.valueIds.of(siteId), learn(learned.valueIds, siteId), (v) => [siteId, valueHash(v), v], valueHash);
  }

  /** Dictionary ids of a site's values; values seen for the first time are inserted. */
  private async resolveIds(
    trx: Trx,
    siteId: string,
    table: Table,
    idColumn: string,
    values: string[],
    cache: ReadonlyMap<string, number>,
    learned: [string, number][],
    row: (value: string) => Value[],
    match: (value: string) => string,
  ): Promise<Map<string, number>> {
    const ids = new Map<string, number>();
    const missing: string[] = [];
    for (const v of values) {
      const cached = cache.get(v);
      if (cached !== undefined) ids.set(v, cached);
      else missing.push(v);
    }
    if (missing.length === 0) return ids;
    if (this.dialect === 'postgres') missing.sort();
    const found = (v: string, id: number) => {
      ids.set(v, id);
      learned.push([v, id]);
    };
    const inserted = await this.bulk.insertNewIds(trx, table, idColumn, missing.map(row));
    const taken: string[] = [];
    missing.forEach((v, i) => (inserted[i] === undefined ? taken.push(v) : found(v, inserted[i]!)));
    if (taken.length > 0) {
      // Inserted by another transaction first: read their ids.
      const byMatch = new Map(taken.map((v) => [match(v), v]));
      const matchCol = table.key[1]!;
      for (let i = 0; i < taken.length; i += 10_000) {
        const part = taken.slice(i, i + 10_000).map(match);
        const res = await sql<{ m: string; id: number }>`select ${sql.ref(matchCol)} as m, ${sql.ref(idColumn)} as id from ${sql.table(table.name)}
          where site_id = ${siteId} and ${sql.ref(matchCol)} in (${sql.join(part)})`.execute(trx);
        for (const r of res.rows) found(byMatch.get(r.m)!, Number(r.id));
      }
      const unresolved = taken.filter((v) => !ids.has(v)).length;
      // A value that does not read back as written (text the database changed on the way in).
      if (unresolved > 0) throw new UnstorableDataError(`could not resolve ${unresolved} ${table.name} ids: a value did not read back as it was written`);
    }
    return ids;
  }

  /**
   * The stored visits the plan needs (PlanInput.visits: those the events can touch and those of
   * the same local days, read as core/plan.ts VisitWindow says), with their visitors locked until
   * commit so that two workers applying events of the same visitor take turns (PostgreSQL: the
   * visitor's dictionary row is the lock; SQLite has a single writer).
   */
  private async lockVisits(trx: Trx, siteId: string, events: PlanEvent<number>[], timeoutMs: number): Promise<Map<number, VisitRecord<number>[]>> {
    const out = new Map<number, VisitRecord<number>[]>();
    if (events.length === 0) return out;
    const visitors = [...new Set(events.map((e) => e.visitor))].sort((a, b) => a - b);
    const w = new VisitWindow(events, timeoutMs);
    const add = (rows: VisitRow[]) => {
      for (const r of rows) {
        const record = visitRecord(r);
        const list = out.get(record.visitor);
        if (list) list.push(record);
        else out.set(record.visitor, [record]);
      }
    };
    const columns = sql`visitor_id, start_ms, last_ms, vals, entry_id, entry_ms, exit_id, exit_ms, pageviews, events`;
    for (let i = 0; i < visitors.length; i += 10_000) {
      const part = visitors.slice(i, i + 10_000);
      if (this.dialect === 'postgres') {
        await sql`select visitor_id from visitors where visitor_id in (${sql.join(part)}) order by visitor_id for update`.execute(trx);
      }
      const res = await sql<VisitRow>`select ${columns} from visits
        where site_id = ${siteId} and visitor_id in (${sql.join(part)}) and start_ms < ${w.hi} and (start_ms >= ${w.lo} or last_ms > ${w.from})`.execute(trx);
      add(res.rows);
    }
    // A long visit overlapping the batch: the visits of the days before it starts too.
    const missing = w.missingFrom([...out.values()].flat());
    if (missing !== undefined) {
      for (let i = 0; i < visitors.length; i += 10_000) {
        const part = visitors.slice(i, i + 10_000);
        const res = await sql<VisitRow>`select ${columns} from visits
          where site_id = ${siteId} and visitor_id in (${sql.join(part)}) and start_ms >= ${missing} and start_ms < ${w.lo} and last_ms <= ${w.from}`.execute(trx);
        add(res.rows);
      }
    }
    return out;
  }

  private async execute(trx: Trx, siteId: string, plan: RollupPlan<number>, learned: Learned): Promise<void> {
    // Memberships of event-level values: which visitors each counter row counts, inserted if
    // absent. Known rows cost nothing.
    const known = this.knownMembers.of(siteId);
    const inserted: boolean[] = new Array(plan.members.length).fill(false);
    const inserts: number[] = [];
    const keys: string[] = new Array(plan.members.length);
    let counter: RollupPlan<number>['counters'][number] | undefined;
    let key = '';
    let visitors: ReadonlySet<number> | undefined;
    // plan.members lists the members of one counter row together.
    plan.members.forEach((m, i) => {
      if (m.counter !== counter) {
        counter = m.counter;
        key = rowKey(counter);
        visitors = known.get(key);
      }
      keys[i] = key;
      if (!visitors?.has(m.visitor)) inserts.push(i);
    });
    const memberRow = (i: number): Value[] => {
      const m = plan.members[i]!;
      const c = m.counter;
      return [siteId, c.grain, c.bucket, c.dim, c.scope, c.value, m.visitor, 1];
    };
    // In any order: member rows and visit records are a visitor's, and every transaction writing
    // them holds that visitor's lock (lockVisits), so no two transactions wait on the same ones.
    const added = await this.bulk.insertNew(trx, MEMBERS, inserts.map(memberRow));
    const remember = learn(learned.members, siteId);
    inserts.forEach((i, k) => {
      inserted[i] = added[k]!;
      remember.push([keys[i]!, plan.members[i]!.visitor]);
    });
    applyVisitorDeltas(plan, inserted);

    // Visits, then counters; the totals rows, which every batch of the site touches, last: their
    // row locks are then held for the shortest time.
    for (let i = 0; i < plan.deleteVisits.length; i += 5000) {
      const part = plan.deleteVisits.slice(i, i + 5000);
      await sql`delete from visits where site_id = ${siteId} and (visitor_id, start_ms) in (${sql.join(part.map((d) => sql`(${d.visitor}, ${d.start})`))})`.execute(trx);
    }
    const visitRows = plan.putVisits.map((v) => [siteId, v.visitor, v.start, v.last, v.values.join(','), v.entry, v.entryTs, v.exit, v.exitTs, v.pageviews, v.events]);
    await this.bulk.upsertAdd(trx, VISITS, visitRows, [], VISIT_COLUMNS);
    const row = (c: RollupPlan<number>['counters'][number]): Value[] => [
      siteId, c.grain, c.bucket, c.dim, c.scope, c.value, c.pageviews, c.events, c.visitors, c.visits, c.bounces, c.durationMs, c.revision,
    ];
    const others = plan.counters.filter((c) => c.dim !== 0 && c.dim !== IGNORED.id).map(row);
    const last = plan.counters.filter((c) => c.dim === 0 || c.dim === IGNORED.id).map(row);
    await this.bulk.upsertAdd(trx, ROLLUPS, this.ordered(others), COUNTERS);
    await this.bulk.upsertAdd(trx, ROLLUPS, this.ordered(last), COUNTERS);
  }
}

/** The meta key of the retention cutoff (epoch ms) the maintenance recorded before deleting raw events. */
export const RETENTION_CUTOFF = 'retention_cutoff_ms';

interface VisitRow {
  visitor_id: number;
  start_ms: number;
  last_ms: number;
  vals: string;
  entry_id: number;
  entry_ms: number;
  exit_id: number;
  exit_ms: number;
  pageviews: number;
  events: number;
}

function visitRecord(r: VisitRow): VisitRecord<number> {
  return {
    visitor: Number(r.visitor_id),
    start: Number(r.start_ms),
    last: Number(r.last_ms),
    values: r.vals === '' ? [] : r.vals.split(',').map(Number),
    entry: Number(r.entry_id),
    entryTs: Number(r.entry_ms),
    exit: Number(r.exit_id),
    exitTs: Number(r.exit_ms),
    pageviews: Number(r.pageviews),
    events: Number(r.events),
  };
}

/** Derived values kept with the raw event (never the user agent or the IP). */
function dimsJson(e: PreparedEvent): string | null {
  const d: Record<string, string> = {};
  for (const k of ['source', 'referrer', 'utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content', 'browser', 'os', 'device', 'country', 'language', 'screen'] as const) {
    const v = e[k];
    if (v !== null) d[k] = v;
  }
  return Object.keys(d).length ? JSON.stringify(d) : null;
}

/** A total order on rows, so concurrent transactions lock rows in the same order (no deadlocks). */
function compareRows(a: Value[], b: Value[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x !== y) return x === null ? -1 : y === null ? 1 : x < y ? -1 : 1;
  }
  return 0;
}
