// The read path of the SQL stores: summaries and breakdowns for a period from the rollups, never
// from raw events. One bucket is one indexed read of counter rows. Several buckets (the last 24
// hours, date ranges) add counters up and count visitors exactly as the union of each value's
// member rows, from per-bucket snapshots (snapshots.ts) that are re-read only when their bucket
// changed. Visitors are counted exactly only for the values that can make the top `limit`: a
// value's visitors over the period are at most the sum of its per-bucket visitors, so values are
// taken in order of that bound until the next bound cannot beat the last row kept.
import { sql, type Kysely } from 'kysely';
import { IGNORED, TOTAL } from '../../core/dimensions.js';
import { pathHash as valueHash } from '../path-hash.js';
import type { BreakdownQuery, BreakdownRow, BucketCounts, Counts, Period, Realtime, Summary } from '../port.js';
import type { Database } from './schema.js';
import { SnapshotCache, memberSnapshot, unionCount, type CounterSnapshot, type MemberSnapshot } from './snapshots.js';

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
    sum.visitors = totals.length <= 1 ? (totals[0]?.counts.visitors ?? 0) : await this.unionOfTotals(siteId, period, totals);
    const series: BucketCounts[] = totals.map((t) => ({ bucket: t.bucket, ...t.counts }));
    return { ...sum, series, ignored };
  }

  async breakdown(siteId: string, period: Period, q: BreakdownQuery): Promise<BreakdownRow[]> {
    const scope = q.scope.length === 0 ? 0 : await this.idOf(siteId, JSON.stringify(q.scope));
    if (scope === undefined) return [];
    const totals = await this.totals(siteId, period);
    if (totals.length === 0) return [];
    const counters = await this.counterSnapshots(siteId, period, totals, q.dim, scope);
    // Sum the additive counters per value; keep each bucket's visitor count for the bound.
    const sums = new Map<number, Counts>();
    for (const s of counters) {
      for (let i = 0; i < s.values.length; i++) {
        const v = s.values[i]!;
        let c = sums.get(v);
        if (!c) sums.set(v, (c = zero()));
        const o = i * FIELDS;
        c.pageviews += s.counts[o]!;
        c.events += s.counts[o + 1]!;
        c.visitors += s.counts[o + 2]!; // an upper bound when several buckets: made exact below
        c.visits += s.counts[o + 3]!;
        c.bounces += s.counts[o + 4]!;
        c.durationMs += s.counts[o + 5]!;
      }
    }
    for (const [v, c] of sums) if (c.visitors <= 0 && c.pageviews <= 0 && c.events <= 0 && c.visits <= 0) sums.delete(v);
    const metric = q.order;
    const candidates = [...sums].sort((a, b) => b[1][metric] - a[1][metric]);
    let chosen: [number, Counts][];
    if (counters.length <= 1) {
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

  /** The totals row of every bucket with data in the period, in bucket order. */
  private async totals(siteId: string, p: Period): Promise<Totals[]> {
    const rows = await this.db
      .selectFrom('rollups')
      .select(['bucket', 'pageviews', 'events', 'visitors', 'visits', 'bounces', 'duration_ms', 'revision'])
      .where('site_id', '=', siteId)
      .where('grain', '=', p.grain)
      .where('bucket', '>=', p.from)
      .where('bucket', '<', p.to)
      .where('dim', '=', TOTAL.id)
      .where('scope', '=', 0)
      .where('value', '=', 0)
      .orderBy('bucket')
      .execute();
    return rows.map((r) => ({
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
    const rows = await this.db
      .selectFrom('rollups')
      .innerJoin('dictionary', 'dictionary.value_id', 'rollups.value')
      .select(['dictionary.value as reason', (eb) => eb.fn.sum<number>('rollups.events').as('n')])
      .where('rollups.site_id', '=', siteId)
      .where('rollups.grain', '=', p.grain)
      .where('rollups.bucket', '>=', p.from)
      .where('rollups.bucket', '<', p.to)
      .where('rollups.dim', '=', IGNORED.id)
      .groupBy('dictionary.value')
      .execute();
    const out: Record<string, number> = {};
    for (const r of rows) out[r.reason] = Number(r.n);
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
    byBound: [number, Counts][],
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
      const nextBound = i < byBound.length ? byBound[i]![1].visitors : -1;
      if (nextBound < kth) break;
    }
    return atCut(exact, limit, (c) => c.visitors);
  }

  /** Replaces the visitors of these rows by the exact count over the period's buckets. */
  private async exactVisitors(siteId: string, p: Period, totals: Totals[], dim: number, scope: number, rows: [number, Counts][]): Promise<void> {
    const snaps = await this.memberSnapshots(siteId, p, totals, dim, scope);
    for (const [v, c] of rows) c.visitors = unionCount(snaps.map((s) => s.byValue.get(v)).filter((x): x is Uint32Array => x !== undefined));
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

  /** Visitor ids per value and bucket (member rows with refs > 0), from valid snapshots or one query. */
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
      const byBucket = new Map<number, [number, number][]>();
      for (const r of rows.rows) {
        const b = Number(r.bucket);
        const l = byBucket.get(b);
        const pair: [number, number] = [Number(r.value), Number(r.visitor_id)];
        if (l) l.push(pair);
        else byBucket.set(b, [pair]);
      }
      for (const t of part) {
        const snap = memberSnapshot(t.revision, byBucket.get(t.bucket) ?? []);
        this.cache.set(key(t.bucket), { kind: 'members', value: snap });
        out.push(snap);
      }
    }
    return out;
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

function addCounts(into: Counts, c: Counts): void {
  into.pageviews += c.pageviews;
  into.events += c.events;
  into.visitors += c.visitors;
  into.visits += c.visits;
  into.bounces += c.bounces;
  into.durationMs += c.durationMs;
}

/** The first `limit` entries of a list sorted by `metric` descending, plus every entry tied at the cut. */
function atCut<T>(sorted: [number, T][], limit: number, metric: (t: T) => number): [number, T][] {
  if (sorted.length <= limit) return sorted;
  if (limit <= 0) return [];
  const threshold = metric(sorted[limit - 1]![1]);
  let end = limit;
  while (end < sorted.length && metric(sorted[end]![1]) === threshold) end++;
  return sorted.slice(0, end);
}

/** Ties broken by value, `null` (none) first, then by code point order. */
function compareValues(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}
