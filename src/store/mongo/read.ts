// The read path of the MongoDB store: summaries and breakdowns for a period from the rollups,
// never from raw events. Counters over several buckets are summed by an aggregation; visitors over
// several buckets are counted exactly, as the distinct visitors of the member documents (refs > 0)
// of the period's buckets. Realtime reads the visits by their last event and the raw events of the
// last 30 minutes by the spec's { site_id, timestamp } index.
import type { Document } from 'mongodb';
import { IGNORED, TOTAL, scopeOf } from '../../core/dimensions.js';
import type { BreakdownQuery, BreakdownRow, BucketCounts, Counts, Period, Realtime, Summary } from '../port.js';
import { NONE, type Collections } from './schema.js';

const zero = (): Counts => ({ pageviews: 0, events: 0, visitors: 0, visits: 0, bounces: 0, durationMs: 0 });

/** The counters of a rollup document or of a group of them, as the server returns them. */
interface CounterFields {
  pageviews: number;
  events: number;
  visitors: number;
  visits: number;
  bounces: number;
  duration_ms: number;
}

const countsOf = (d: CounterFields): Counts => ({
  pageviews: Number(d.pageviews ?? 0),
  events: Number(d.events ?? 0),
  visitors: Number(d.visitors ?? 0),
  visits: Number(d.visits ?? 0),
  bounces: Number(d.bounces ?? 0),
  durationMs: Number(d.duration_ms ?? 0),
});

/** The sums a breakdown groups per value. */
const SUMS = {
  pageviews: { $sum: '$pageviews' },
  events: { $sum: '$events' },
  visitors: { $sum: '$visitors' },
  visits: { $sum: '$visits' },
  bounces: { $sum: '$bounces' },
  duration_ms: { $sum: '$duration_ms' },
};

interface ValueGroup extends CounterFields {
  _id: string;
  value: string;
  buckets: number;
}

export class MongoReader {
  constructor(private readonly c: Collections) {}

  async summary(siteId: string, period: Period): Promise<Summary> {
    const [totals, ignored] = await Promise.all([this.totals(siteId, period), this.ignored(siteId, period)]);
    const sum = zero();
    for (const t of totals) {
      sum.pageviews += t.pageviews;
      sum.events += t.events;
      sum.visits += t.visits;
      sum.bounces += t.bounces;
      sum.durationMs += t.durationMs;
    }
    // One bucket's visitors are its totals' count; over several, the distinct members.
    sum.visitors = totals.length <= 1 ? (totals[0]?.visitors ?? 0) : await this.distinctVisitors(siteId, period);
    return { ...sum, series: totals, ignored };
  }

  async breakdown(siteId: string, period: Period, q: BreakdownQuery): Promise<BreakdownRow[]> {
    const scope = q.scope.length === 0 ? NONE : scopeOf(...q.scope);
    const groups = await this.c.rollups
      .aggregate<ValueGroup>(
        [
          { $match: { site_id: siteId, grain: period.grain, dim: q.dim, scope, bucket: range(period) } },
          { $group: { _id: '$value_hash', value: { $first: '$value' }, ...SUMS, buckets: { $sum: 1 } } },
        ],
        { allowDiskUse: true },
      )
      .toArray();
    let rows = groups
      .map((g) => ({ hash: g._id, buckets: Number(g.buckets), row: { value: g.value === NONE ? null : g.value, ...countsOf(g) } as BreakdownRow }))
      .filter(({ row: c }) => c.visitors > 0 || c.pageviews > 0 || c.events > 0 || c.visits > 0);
    // A value's visitors summed over several buckets is only an upper bound: counted exactly below.
    const several = rows.some((r) => r.buckets > 1);
    const metric = q.order;
    if (several && metric === 'visitors') {
      const exact = await this.visitorsByValue(siteId, period, q.dim, scope);
      for (const r of rows) r.row.visitors = exact.get(r.hash) ?? 0;
    }
    rows.sort((a, b) => b.row[metric] - a.row[metric] || compareValues(a.row.value, b.row.value));
    rows = rows.slice(0, Math.max(0, q.limit));
    if (several && metric !== 'visitors') {
      if (q.withVisitors === false) for (const r of rows) r.row.visitors = 0;
      else if (rows.length > 0) {
        const exact = await this.visitorsByValue(siteId, period, q.dim, scope, rows.map((r) => r.hash));
        for (const r of rows) r.row.visitors = exact.get(r.hash) ?? 0;
      }
    }
    return rows.map((r) => r.row);
  }

  async realtime(siteId: string, opts: { since: number; pageviewsSince: number; limit: number }): Promise<Realtime> {
    const recent = { site_id: siteId, last_ms: { $gte: opts.since } };
    const [visitors, pageviews, pages] = await Promise.all([
      this.c.visits.aggregate<{ visitors: number }>([{ $match: recent }, { $group: { _id: '$visitor' } }, { $count: 'visitors' }]).toArray(),
      this.c.events
        .aggregate<{ pageviews: number }>(
          [{ $match: { site_id: siteId, timestamp: { $gte: new Date(opts.pageviewsSince) }, is_pageview: true } }, { $count: 'pageviews' }],
          { hint: { site_id: 1, timestamp: -1 } },
        )
        .toArray(),
      // A visit's exit page is its latest page view: where its visitor is now.
      this.c.visits
        .aggregate<{ _id: string; visitors: number }>([
          { $match: { ...recent, exit: { $ne: NONE } } },
          { $group: { _id: { exit: '$exit', visitor: '$visitor' } } },
          { $group: { _id: '$_id.exit', visitors: { $sum: 1 } } },
        ])
        .toArray(),
    ]);
    const list = pages.map((p) => ({ value: p._id, visitors: Number(p.visitors) }));
    list.sort((a, b) => b.visitors - a.visitors || compareValues(a.value, b.value));
    return {
      visitors: Number(visitors[0]?.visitors ?? 0),
      pageviews: Number(pageviews[0]?.pageviews ?? 0),
      pages: list.slice(0, Math.max(0, opts.limit)),
    };
  }

  /** The totals document of every bucket with data in the period, in bucket order. */
  private async totals(siteId: string, p: Period): Promise<BucketCounts[]> {
    const docs = await this.c.rollups
      .find(
        { site_id: siteId, grain: p.grain, dim: TOTAL.id, scope: NONE, bucket: range(p), value_hash: NONE },
        { projection: { _id: 0, bucket: 1, pageviews: 1, events: 1, visitors: 1, visits: 1, bounces: 1, duration_ms: 1 }, sort: { bucket: 1 } },
      )
      .toArray();
    return docs.map((d) => ({ bucket: Number(d.bucket), ...countsOf(d) }));
  }

  /** Ignored events per reason. The reasons are the fixed list of core/event.ts, not input. */
  private async ignored(siteId: string, p: Period): Promise<Record<string, number>> {
    const rows = await this.c.rollups
      .aggregate<{ _id: string; events: number }>([
        { $match: { site_id: siteId, grain: p.grain, dim: IGNORED.id, scope: NONE, bucket: range(p) } },
        { $group: { _id: '$value', events: { $sum: '$events' } } },
      ])
      .toArray();
    const out: Record<string, number> = {};
    for (const r of rows) out[r._id] = Number(r.events);
    return out;
  }

  /** Distinct visitors of the site over the period's buckets. */
  private async distinctVisitors(siteId: string, p: Period): Promise<number> {
    const [row] = await this.c.members
      .aggregate<{ visitors: number }>(
        [
          { $match: { site_id: siteId, grain: p.grain, dim: TOTAL.id, scope: NONE, bucket: range(p), refs: { $gt: 0 } } },
          { $group: { _id: '$visitor' } },
          { $count: 'visitors' },
        ],
        { allowDiskUse: true },
      )
      .toArray();
    return Number(row?.visitors ?? 0);
  }

  /** Distinct visitors per value (by value hash) over the period's buckets, of every value or of these. */
  private async visitorsByValue(siteId: string, p: Period, dim: number, scope: string, hashes?: string[]): Promise<Map<string, number>> {
    const match: Document = { site_id: siteId, grain: p.grain, dim, scope, bucket: range(p), refs: { $gt: 0 } };
    if (hashes) match.value_hash = { $in: hashes };
    const rows = await this.c.members
      .aggregate<{ _id: string; visitors: number }>(
        [{ $match: match }, { $group: { _id: { value_hash: '$value_hash', visitor: '$visitor' } } }, { $group: { _id: '$_id.value_hash', visitors: { $sum: 1 } } }],
        { allowDiskUse: true },
      )
      .toArray();
    return new Map(rows.map((r) => [r._id, Number(r.visitors)]));
  }
}

const range = (p: Period) => ({ $gte: p.from, $lt: p.to });

/** Ties broken by value, `null` (none) first, then by code unit order (as the SQL store). */
function compareValues(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}
