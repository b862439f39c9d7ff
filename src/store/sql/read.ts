// The read path of the SQL stores: summaries and breakdowns for a period from the rollups, never
// from raw events. One bucket is one indexed read of counter rows. Several buckets (the last 24
// hours, date ranges) add counters up and count visitors exactly as the union of each value's
// member rows, from per-bucket snapshots (snapshots.ts) that are re-read only when their bucket
// changed. Visitors are counted exactly only for the values that can make the top `limit`: a
// value's visitors over the period are at most the sum of its per-bucket visitors, so values are
// taken in order of that bound until the next bound cannot beat the last row kept.
//
// Members of event-level values (totals, pages, events, properties) are member rows. Members of
// visit-level values (visit dimensions, entry and exit pages) are the visits that start in the
// bucket (tables `visits` and, past retention, `visit_members`), plus the member rows version 4 of
// the schema wrote for them (refs > 0), which stay for the days it wrote.
import { sql, type Kysely } from 'kysely';
import { IGNORED, TOTAL } from '../../core/dimensions.js';
import { DAY, ENTRY_SLOT, isVisitLevel, slotOf, type Grain } from '../../core/plan.js';
import { bucketNumbers, dayOfNumber, dayStart, HOUR, tzOffset } from '../../core/time.js';
import { pathHash as valueHash } from '../path-hash.js';
import type { BreakdownQuery, BreakdownRow, BucketCounts, Counts, Period, Realtime, Summary } from '../port.js';
import type { Database } from './schema.js';
import { Pairs, SnapshotCache, grown, memberSnapshot, unionCount, type CounterSnapshot, type MemberSnapshot } from './snapshots.js';

const FIELDS = 6; // pageviews, events, visitors, visits, bounces, durationMs
const zero = (): Counts => ({ pageviews: 0, events: 0, visitors: 0, visits: 0, bounces: 0, durationMs: 0 });

interface Totals {
  bucket: number;
  revision: number;
  counts: Counts;
}

export class SqlReader {
  /** Per-process memory for range answers. */
  private cache: SnapshotCache;
  /** Sites' timezones (they never change): the bounds of their buckets in time. */
  private timezones = new Map<string, string>();

  constructor(
    private db: Kysely<Database>,
    private dialect: 'sqlite' | 'postgres',
    cacheBytes = 128 * 1024 * 1024,
  ) {
    this.cache = new SnapshotCache(cacheBytes);
  }

  async summary(siteId: string, period: Period): Promise<Summary> {
    const [totals, ignored] = await Promise.all([this.totals(siteId, period), this.ignored(siteId, period)]);
    const sum = zero();
    for (const t of totals) addCounts(sum, t.counts);
    sum.visitors =
      totals.length <= 1
        ? (totals[0]?.counts.visitors ?? 0)
        : await this.memo(`u|${periodKey(siteId, period)}`, totals, () => 64, () => this.unionOfTotals(siteId, period, totals));
    const series: BucketCounts[] = totals.map((t) => ({ bucket: t.bucket, ...t.counts }));
    return { ...sum, series, ignored };
  }

  async breakdown(siteId: string, period: Period, q: BreakdownQuery): Promise<BreakdownRow[]> {
    const scope = q.scope.length === 0 ? 0 : await this.idOf(siteId, JSON.stringify(q.scope));
    if (scope === undefined) return [];
    const totals = await this.totals(siteId, period);
    if (totals.length === 0) return [];
    const key = `b|${periodKey(siteId, period)}|${q.dim}|${scope}|${q.order}|${q.limit}|${q.withVisitors !== false}`;
    const rows = await this.memo(key, totals, rowsBytes, () => this.rankRows(siteId, period, totals, q, scope));
    return rows.map((r) => ({ ...r })); // the caller's to change
  }

  private async rankRows(siteId: string, period: Period, totals: Totals[], q: BreakdownQuery, scope: number): Promise<BreakdownRow[]> {
    const sums = await this.memo(`s|${periodKey(siteId, period)}|${q.dim}|${scope}`, totals, (s) => s.bytes, async () =>
      sumSnapshots(await this.counterSnapshots(siteId, period, totals, q.dim, scope)),
    );
    const metric = q.order;
    const candidates = ranked(sums, metric);
    let chosen: [number, Counts][];
    if (sums.buckets <= 1) {
      chosen = atCut(candidates, q.limit, (c) => c[metric]);
    } else if (metric === 'visitors') {
      chosen = await this.exactTop(siteId, period, totals, q.dim, scope, candidates, q.limit);
    } else {
      chosen = atCut(candidates, q.limit, (c) => c[metric]);
      if (q.withVisitors === false) for (const [, c] of chosen) c.visitors = 0;
      else await this.exactVisitors(siteId, period, totals, q.dim, scope, chosen);
    }
    const names = await this.names(siteId, chosen.map(([v]) => v));
    const rows = chosen.map(([v, c]) => ({ value: v === 0 ? null : names.get(v)!, ...c }));
    rows.sort((a, b) => b[metric] - a[metric] || compareValues(a.value, b.value));
    return rows.slice(0, q.limit);
  }

  async realtime(siteId: string, opts: { since: number; pageviewsSince: number; limit: number }): Promise<Realtime> {
    const [visitors, pageviews, pages] = await Promise.all([
      this.db
        .selectFrom('visits')
        .select((eb) => eb.fn.count<number>('visitor_id').distinct().as('n'))
        .where('site_id', '=', siteId)
        .where('last_ms', '>=', opts.since)
        .executeTakeFirst(),
      this.db
        .selectFrom('events')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('site_id', '=', siteId)
        .where('timestamp_ms', '>=', opts.pageviewsSince)
        .where(sql`lower(event_type)`, '=', 'pageview')
        .executeTakeFirst(),
      this.db
        .selectFrom('visits')
        .select(['exit_id', (eb) => eb.fn.count<number>('visitor_id').distinct().as('n')])
        .where('site_id', '=', siteId)
        .where('last_ms', '>=', opts.since)
        .where('exit_id', '!=', 0)
        .groupBy('exit_id')
        .execute(),
    ]);
    const top = atCut(
      pages.map((p) => [Number(p.exit_id), Number(p.n)] as [number, number]).sort((a, b) => b[1] - a[1]),
      opts.limit,
      (n) => n,
    );
    const names = await this.names(siteId, top.map(([id]) => id));
    const list = top.map(([id, n]) => ({ value: names.get(id)!, visitors: n }));
    list.sort((a, b) => b.visitors - a.visitors || compareValues(a.value, b.value));
    return { visitors: Number(visitors?.n ?? 0), pageviews: Number(pageviews?.n ?? 0), pages: list.slice(0, opts.limit) };
  }

  /**
   * SQLite plans a bucket range on the primary key (site, grain, bucket, …), which holds every
   * dimension's rows of those buckets; this index leads with the dimension (migration 7).
   * PostgreSQL picks it from its statistics.
   */
  private byDimension() {
    return this.dialect === 'sqlite' ? sql`indexed by rollups_dim_bucket` : sql``;
  }

  /** The totals row of every bucket with data in the period, in bucket order. */
  private async totals(siteId: string, p: Period): Promise<Totals[]> {
    const rows = await sql<{ bucket: number; pageviews: number; events: number; visitors: number; visits: number; bounces: number; duration_ms: number; revision: number }>`
      select bucket, pageviews, events, visitors, visits, bounces, duration_ms, revision from rollups ${this.byDimension()}
      where site_id = ${siteId} and grain = ${p.grain} and dim = ${TOTAL.id} and scope = 0 and value = 0 and bucket >= ${p.from} and bucket < ${p.to}
      order by bucket`.execute(this.db);
    return rows.rows.map((r) => ({
      bucket: Number(r.bucket),
      revision: Number(r.revision),
      counts: {
        pageviews: Number(r.pageviews),
        events: Number(r.events),
        visitors: Number(r.visitors),
        visits: Number(r.visits),
        bounces: Number(r.bounces),
        durationMs: Number(r.duration_ms),
      },
    }));
  }

  private async ignored(siteId: string, p: Period): Promise<Record<string, number>> {
    const rows = await sql<{ reason: string; n: number }>`
      select d.value as reason, sum(r.events) as n from rollups r ${this.byDimension()} join dictionary d on d.value_id = r.value
      where r.site_id = ${siteId} and r.grain = ${p.grain} and r.dim = ${IGNORED.id} and r.bucket >= ${p.from} and r.bucket < ${p.to}
      group by d.value`.execute(this.db);
    const out: Record<string, number> = {};
    for (const r of rows.rows) out[r.reason] = Number(r.n);
    return out;
  }

  private async unionOfTotals(siteId: string, p: Period, totals: Totals[]): Promise<number> {
    const snaps = await this.memberSnapshots(siteId, p, totals, TOTAL.id, 0);
    return unionCount(snaps.map((s) => s.byValue.get(0) ?? new Uint32Array(0)));
  }

  /**
   * Exact visitors for the values that can be in the top `limit`, taken in order of their upper
   * bound (the sum of per-bucket visitors) until the next bound is below the last row kept.
   */
  private async exactTop(
    siteId: string,
    p: Period,
    totals: Totals[],
    dim: number,
    scope: number,
    byBound: Ranked,
    limit: number,
  ): Promise<[number, Counts][]> {
    const exact: [number, Counts][] = [];
    let i = 0;
    const step = Math.max(limit, 50);
    while (i < byBound.length) {
      const part = byBound.slice(i, i + step);
      i += part.length;
      await this.exactVisitors(siteId, p, totals, dim, scope, part);
      exact.push(...part);
      exact.sort((a, b) => b[1].visitors - a[1].visitors);
      const kth = exact.length >= limit ? exact[limit - 1]![1].visitors : -1;
      const nextBound = i < byBound.length ? byBound.at(i)[1].visitors : -1;
      if (nextBound < kth) break;
    }
    return atCut(exact, limit, (c) => c.visitors);
  }

  /** Replaces the visitors of these rows by the exact count over the period's buckets. */
  private async exactVisitors(siteId: string, p: Period, totals: Totals[], dim: number, scope: number, rows: [number, Counts][]): Promise<void> {
    if (!isVisitLevel(dim) || scope !== 0) {
      // Member rows are keyed by value: read only the rows' values (a page dimension holds ~1.25
      // million member rows a day on a site of a million events a day; the top rows need a fraction).
      const members = await this.valueMembers(siteId, p, totals, dim, scope, rows.map(([v]) => v));
      for (const [v, c] of rows) c.visitors = unionCount(members.get(v) ?? []);
      return;
    }
    const snaps = await this.memberSnapshots(siteId, p, totals, dim, scope);
    for (const [v, c] of rows) c.visitors = unionCount(snaps.map((s) => s.byValue.get(v)).filter((x): x is Uint32Array => x !== undefined));
  }

  /**
   * The visitor ids of each of `values` in each bucket (member rows with refs > 0), from per-value
   * snapshots still valid or one query per 100 stale buckets for the values they lack.
   */
  private async valueMembers(siteId: string, p: Period, totals: Totals[], dim: number, scope: number, values: number[]): Promise<Map<number, Uint32Array[]>> {
    const key = (b: number, v: number) => `v|${siteId}|${p.grain}|${b}|${dim}|${scope}|${v}`;
    const out = new Map<number, Uint32Array[]>(values.map((v) => [v, []]));
    const stale = new Map<number, { t: Totals; values: number[] }>();
    for (const t of totals) {
      for (const v of values) {
        const e = this.cache.get(key(t.bucket, v));
        if (e?.kind === 'members' && e.value.revision === t.revision) {
          const ids = e.value.byValue.get(v);
          if (ids && ids.length > 0) out.get(v)!.push(ids);
        } else {
          const s = stale.get(t.bucket);
          if (s) s.values.push(v);
          else stale.set(t.bucket, { t, values: [v] });
        }
      }
    }
    const parts = [...stale.values()];
    for (let i = 0; i < parts.length; i += 100) {
      const part = parts.slice(i, i + 100);
      const wanted = [...new Set(part.flatMap((x) => x.values))];
      const byBucket = new Map<number, Pairs>();
      // Values in chunks: a cut with many ties can hold thousands (bound parameters are limited).
      for (let k = 0; k < wanted.length; k += 5000) {
        const rows = await sql<{ bucket: number; value: number; visitor_id: number }>`select bucket, value, visitor_id from members
          where site_id = ${siteId} and grain = ${p.grain} and bucket in (${sql.join(part.map((x) => x.t.bucket))})
            and dim = ${dim} and scope = ${scope} and value in (${sql.join(wanted.slice(k, k + 5000))}) and refs > 0`.execute(this.db);
        for (const r of rows.rows) {
          const b = Number(r.bucket);
          let l = byBucket.get(b);
          if (!l) byBucket.set(b, (l = new Pairs()));
          l.push(Number(r.value), Number(r.visitor_id));
        }
      }
      for (const { t, values: lacking } of part) {
        const snap = memberSnapshot(t.revision, byBucket.get(t.bucket));
        for (const v of lacking) {
          const ids = snap.byValue.get(v) ?? new Uint32Array(0);
          // Kept even when empty: the value had no visitor in the bucket at this revision.
          this.cache.set(key(t.bucket, v), { kind: 'members', value: { revision: t.revision, byValue: new Map([[v, ids]]), bytes: ids.byteLength + 48 } });
          if (ids.length > 0) out.get(v)!.push(ids);
        }
      }
    }
    return out;
  }

  /**
   * What `compute` works out from the period's buckets, kept while every bucket keeps its
   * revision: a period read again (a dashboard's refresh, a closed day, a range of past days)
   * costs its totals query, not the summing and sorting of ~10,000 values or the union of
   * millions of visitor ids. A bucket that changed changes the signature: worked out again.
   */
  private async memo<T>(key: string, totals: Totals[], bytes: (v: T) => number, compute: () => Promise<T>): Promise<T> {
    const signature = totals.map((t) => `${t.bucket}:${t.revision}`).join(',');
    const hit = this.cache.get(key);
    if (hit?.kind === 'memo' && hit.value.signature === signature) return hit.value.value as T;
    const value = await compute();
    this.cache.set(key, { kind: 'memo', value: { signature, value, bytes: bytes(value) + signature.length * 2 + key.length * 2 } });
    return value;
  }

  /** Counter rows of one dimension per bucket, from snapshots still valid or one query for the rest. */
  private async counterSnapshots(siteId: string, p: Period, totals: Totals[], dim: number, scope: number): Promise<CounterSnapshot[]> {
    const key = (b: number) => `c|${siteId}|${p.grain}|${b}|${dim}|${scope}`;
    const out: CounterSnapshot[] = [];
    const stale: Totals[] = [];
    for (const t of totals) {
      const e = this.cache.get(key(t.bucket));
      if (e?.kind === 'counters' && e.value.revision === t.revision) out.push(e.value);
      else stale.push(t);
    }
    for (let i = 0; i < stale.length; i += 500) {
      const part = stale.slice(i, i + 500);
      const rows = await this.db
        .selectFrom('rollups')
        .select(['bucket', 'value', 'pageviews', 'events', 'visitors', 'visits', 'bounces', 'duration_ms'])
        .where('site_id', '=', siteId)
        .where('grain', '=', p.grain)
        .where('bucket', 'in', part.map((t) => t.bucket))
        .where('dim', '=', dim)
        .where('scope', '=', scope)
        .execute();
      const byBucket = new Map<number, typeof rows>();
      for (const r of rows) {
        const b = Number(r.bucket);
        const l = byBucket.get(b);
        if (l) l.push(r);
        else byBucket.set(b, [r]);
      }
      for (const t of part) {
        const list = byBucket.get(t.bucket) ?? [];
        const snap: CounterSnapshot = { revision: t.revision, values: new Float64Array(list.length), counts: new Float64Array(list.length * FIELDS) };
        list.forEach((r, k) => {
          snap.values[k] = Number(r.value);
          snap.counts.set([Number(r.pageviews), Number(r.events), Number(r.visitors), Number(r.visits), Number(r.bounces), Number(r.duration_ms)], k * FIELDS);
        });
        this.cache.set(key(t.bucket), { kind: 'counters', value: snap });
        out.push(snap);
      }
    }
    return out;
  }

  /**
   * Visitor ids per value and bucket, from valid snapshots or one query per 100 stale buckets:
   * member rows with refs > 0, and for visit-level dimensions the visits starting in the bucket.
   */
  private async memberSnapshots(siteId: string, p: Period, totals: Totals[], dim: number, scope: number): Promise<MemberSnapshot[]> {
    const key = (b: number) => `m|${siteId}|${p.grain}|${b}|${dim}|${scope}`;
    const out: MemberSnapshot[] = [];
    const stale: Totals[] = [];
    for (const t of totals) {
      const e = this.cache.get(key(t.bucket));
      if (e?.kind === 'members' && e.value.revision === t.revision) out.push(e.value);
      else stale.push(t);
    }
    for (let i = 0; i < stale.length; i += 100) {
      const part = stale.slice(i, i + 100);
      const rows = await sql<{ bucket: number; value: number; visitor_id: number }>`select bucket, value, visitor_id from members
        where site_id = ${siteId} and grain = ${p.grain} and bucket in (${sql.join(part.map((t) => t.bucket))})
          and dim = ${dim} and scope = ${scope} and refs > 0`.execute(this.db);
      const byBucket = new Map<number, Pairs>();
      const add = (bucket: number, value: number, visitor: number) => {
        let l = byBucket.get(bucket);
        if (!l) byBucket.set(bucket, (l = new Pairs()));
        l.push(value, visitor);
      };
      for (const r of rows.rows) add(Number(r.bucket), Number(r.value), Number(r.visitor_id));
      if (scope === 0 && isVisitLevel(dim)) await this.visitMembers(siteId, p.grain, part.map((t) => t.bucket), dim, add);
      for (const t of part) {
        const snap = memberSnapshot(t.revision, byBucket.get(t.bucket));
        this.cache.set(key(t.bucket), { kind: 'members', value: snap });
        out.push(snap);
      }
    }
    return out;
  }

  /**
   * The (value, visitor) of every visit starting in these buckets, for a visit-level dimension: one
   * statement per run of adjacent buckets over `visits` (by start time) and `visit_members` (by
   * bucket). A visit is in one of the two (the maintenance moves it in one transaction), and the one
   * statement reads both in one snapshot.
   */
  private async visitMembers(siteId: string, grain: Grain, buckets: number[], dim: number, add: (bucket: number, value: number, visitor: number) => void): Promise<void> {
    const tz = await this.timezoneOf(siteId);
    const slot = slotOf(dim);
    const column = sql.ref(slot < ENTRY_SLOT ? 'vals' : slot === ENTRY_SLOT ? 'entry_id' : 'exit_id');
    const bucketColumn = sql.ref(grain === DAY ? 'start_day' : 'start_hour');
    const wanted = new Set(buckets);
    for (const run of adjacentRuns(grain, buckets)) {
      const first = run[0]!;
      const last = run.at(-1)!;
      // Starts from the first bucket's start to past the last one's end (a local hour is at most 90 minutes).
      const lo = grain === DAY ? dayStart(dayOfNumber(first), tz) : first;
      const hi = grain === DAY ? dayStart(dayOfNumber(last + 1), tz) : last + 2 * HOUR;
      const rows = await sql<{ moved: number; at: number; visitor_id: number; v: string | number }>`
        select 0 as moved, start_ms as at, visitor_id, ${column} as v from visits where site_id = ${siteId} and start_ms >= ${lo} and start_ms < ${hi}
        union all
        select 1 as moved, ${bucketColumn} as at, visitor_id, ${column} as v from visit_members where site_id = ${siteId} and ${bucketColumn} >= ${first} and ${bucketColumn} <= ${last}`.execute(this.db);
      const bucketOf = bucketFunction(grain, tz, lo, hi);
      for (const r of rows.rows) {
        const bucket = Number(r.moved) === 1 ? Number(r.at) : bucketOf(Number(r.at));
        if (!wanted.has(bucket)) continue;
        const value = slot < ENTRY_SLOT ? field(String(r.v), slot) : Number(r.v);
        if (slot >= ENTRY_SLOT && value === 0) continue; // no page view: no entry or exit page
        add(bucket, value, Number(r.visitor_id));
      }
    }
  }

  private async timezoneOf(siteId: string): Promise<string> {
    let tz = this.timezones.get(siteId);
    if (tz === undefined) {
      const row = await this.db.selectFrom('sites').select('timezone').where('site_id', '=', siteId).executeTakeFirst();
      tz = row?.timezone ?? 'UTC';
      if (this.timezones.size >= 100_000) this.timezones.clear();
      if (row) this.timezones.set(siteId, tz);
    }
    return tz;
  }

  /** The dictionary id of a string, if the site has it. */
  private async idOf(siteId: string, value: string): Promise<number | undefined> {
    const row = await this.db
      .selectFrom('dictionary')
      .select('value_id')
      .where('site_id', '=', siteId)
      .where('value_hash', '=', valueHash(value))
      .executeTakeFirst();
    return row ? Number(row.value_id) : undefined;
  }

  private async names(siteId: string, ids: number[]): Promise<Map<number, string>> {
    const out = new Map<number, string>();
    const wanted = ids.filter((id) => id !== 0);
    for (let i = 0; i < wanted.length; i += 10_000) {
      const rows = await this.db
        .selectFrom('dictionary')
        .select(['value_id', 'value'])
        .where('site_id', '=', siteId)
        .where('value_id', 'in', wanted.slice(i, i + 10_000))
        .execute();
      for (const r of rows) out.set(Number(r.value_id), r.value);
    }
    return out;
  }
}

/** Sorted buckets in runs of adjacent ones (at most a day each): one read of visits per run. */
function adjacentRuns(grain: Grain, buckets: number[]): number[][] {
  const sorted = [...buckets].sort((a, b) => a - b);
  const runs: number[][] = [];
  for (const b of sorted) {
    const run = runs.at(-1);
    const prev = run?.at(-1);
    // At most a day of visits per query: a month of a busy site is millions of rows, and read at
    // once they are millions of objects alive together (gigabytes, long collector pauses).
    if (run && prev !== undefined && run.length < (grain === DAY ? 1 : 24) && (grain === DAY ? b === prev + 1 : b - prev <= 2 * HOUR)) run.push(b);
    else runs.push([b]);
  }
  return runs;
}

/**
 * The bucket of an instant in [lo, hi), as the worker bucketed it (core/time.ts bucketNumbers):
 * by arithmetic when the timezone's offset is the same over the whole span (a span of at most 8
 * days with the same offset at both ends has no change inside), else instant by instant.
 */
function bucketFunction(grain: Grain, tz: string, lo: number, hi: number): (ts: number) => number {
  const offset = tzOffset(lo, tz);
  if (hi - lo <= 8 * 86_400_000 && tzOffset(hi, tz) === offset) {
    return grain === DAY ? (ts) => Math.floor((ts + offset) / 86_400_000) : (ts) => Math.floor((ts + offset) / HOUR) * HOUR - offset;
  }
  return grain === DAY ? (ts) => bucketNumbers(ts, tz).day : (ts) => bucketNumbers(ts, tz).hour;
}

/** Field k of a visit's comma-separated value ids (0, none, when the visit has no such field). */
function field(vals: string, k: number): number {
  let start = 0;
  for (let i = 0; i < k; i++) {
    start = vals.indexOf(',', start) + 1;
    if (start === 0) return 0;
  }
  const end = vals.indexOf(',', start);
  const text = end < 0 ? vals.slice(start) : vals.slice(start, end);
  return text === '' ? 0 : Number(text);
}

function addCounts(into: Counts, c: Counts): void {
  into.pageviews += c.pageviews;
  into.events += c.events;
  into.visitors += c.visitors;
  into.visits += c.visits;
  into.bounces += c.bounces;
  into.durationMs += c.durationMs;
}

const periodKey = (siteId: string, p: Period) => `${siteId}|${p.grain}|${p.from}|${p.to}`;

const OFFSET: Record<BreakdownQuery['order'], number> = { pageviews: 0, visitors: 2 };

/**
 * The counters of one dimension summed per value over a period's buckets; each bucket's visitors
 * are added up too (an upper bound over several buckets, made exact by the caller).
 */
interface Sums {
  buckets: number;
  values: Float64Array;
  counts: Float64Array;
  /** Value indexes by descending metric, per metric offset, worked out when first asked. */
  orders: Map<number, Uint32Array>;
  bytes: number;
}

const rowsBytes = (rows: BreakdownRow[]) => rows.reduce((n, r) => n + 120 + (r.value?.length ?? 0) * 2, 0);

/** Adds up counter snapshots per value (dropping values with nothing counted). */
function sumSnapshots(counters: CounterSnapshot[]): Sums {
  const index = new Map<number, number>();
  let values: Float64Array<ArrayBuffer> = new Float64Array(counters.length === 1 ? counters[0]!.values.length : 1024);
  let counts: Float64Array<ArrayBuffer> = new Float64Array(values.length * FIELDS);
  let n = 0;
  for (const s of counters) {
    for (let i = 0; i < s.values.length; i++) {
      const v = s.values[i]!;
      let k = index.get(v);
      if (k === undefined) {
        if (n === values.length) {
          values = grown(values, n * 2);
          counts = grown(counts, n * 2 * FIELDS);
        }
        index.set(v, (k = n++));
        values[k] = v;
      }
      for (let f = 0; f < FIELDS; f++) counts[k * FIELDS + f]! += s.counts[i * FIELDS + f]!;
    }
  }
  // Values with nothing counted in the period (rows whose counts went back to 0) are not rows.
  let m = 0;
  for (let k = 0; k < n; k++) {
    const o = k * FIELDS;
    if (counts[o + 2]! <= 0 && counts[o]! <= 0 && counts[o + 1]! <= 0 && counts[o + 3]! <= 0) continue;
    values[m] = values[k]!;
    counts.copyWithin(m * FIELDS, o, o + FIELDS);
    m++;
  }
  const out = { buckets: counters.length, values: values.slice(0, m), counts: counts.slice(0, m * FIELDS), orders: new Map<number, Uint32Array>() };
  return { ...out, bytes: out.values.byteLength * (1 + FIELDS) + 8 * m };
}

/**
 * The values in descending order of a metric (the order is worked out once per sums), read as
 * fresh [value, counts] pairs only where the caller looks: the top of ~10,000 values.
 */
function ranked(s: Sums, metric: BreakdownQuery['order']): Ranked {
  const f = OFFSET[metric];
  let order = s.orders.get(f);
  if (!order) {
    order = new Uint32Array(s.values.length);
    for (let i = 0; i < order.length; i++) order[i] = i;
    order.sort((a, b) => s.counts[b * FIELDS + f]! - s.counts[a * FIELDS + f]! || a - b);
    s.orders.set(f, order); // its bytes are counted in `bytes` ahead
  }
  const o = order;
  const at = (i: number): [number, Counts] => {
    const k = o[i]! * FIELDS;
    const c = s.counts;
    return [s.values[o[i]!]!, { pageviews: c[k]!, events: c[k + 1]!, visitors: c[k + 2]!, visits: c[k + 3]!, bounces: c[k + 4]!, durationMs: c[k + 5]! }];
  };
  return { length: o.length, at, slice: (from, to) => Array.from({ length: Math.max(0, Math.min(to, o.length) - from) }, (_, i) => at(from + i)) };
}

/** Rows in order, made on demand. */
interface Ranked {
  length: number;
  at(i: number): [number, Counts];
  slice(from: number, to: number): [number, Counts][];
}

/** The first `limit` entries of a list sorted by `metric` descending, plus every entry tied at the cut. */
function atCut<T>(sorted: { length: number; at(i: number): [number, T] | undefined; slice(from: number, to: number): [number, T][] }, limit: number, metric: (t: T) => number): [number, T][] {
  if (sorted.length <= limit) return sorted.slice(0, sorted.length);
  if (limit <= 0) return [];
  const threshold = metric(sorted.at(limit - 1)![1]);
  let end = limit;
  while (end < sorted.length && metric(sorted.at(end)![1]) === threshold) end++;
  return sorted.slice(0, end);
}

/** Ties broken by value, `null` (none) first, then by code point order. */
function compareValues(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}
