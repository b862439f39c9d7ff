// The read path of the MongoDB store: summaries and breakdowns for a period from the rollups,
// never from raw events. Counters over several buckets are summed by an aggregation; visitors over
// several buckets are counted exactly, as the distinct visitors of the member documents of the
// period's buckets — for visit-level values (visit dimensions, entry and exit pages), of the visits
// that started in the period (`visits`, `visit_members`) and of the member documents version 2
// wrote for them (refs > 0). Realtime reads the visits by their last event and the raw events of
// the last 30 minutes by the spec's { site_id, timestamp } index.
import type { Document } from 'mongodb';
import { IGNORED, TOTAL, scopeOf } from '../../core/dimensions.js';
import { DAY, ENTRY_SLOT, isVisitLevel, slotOf } from '../../core/plan.js';
import { dayOfNumber, dayStart } from '../../core/time.js';
import type { BreakdownQuery, BreakdownRow, BucketCounts, Counts, Period, Realtime, Summary } from '../port.js';
import { COLLECTION_NAMES, NONE, valueHash, type Collections } from './schema.js';

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
  /** Sites' timezones (they never change): the bounds of a period in time. */
  private readonly timezones = new Map<string, string>();

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
        const exact = await this.visitorsByValue(siteId, period, q.dim, scope, rows.map((r) => ({ hash: r.hash, value: r.row.value ?? NONE })));
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
  private async visitorsByValue(siteId: string, p: Period, dim: number, scope: string, only?: { hash: string; value: string }[]): Promise<Map<string, number>> {
    if (scope === NONE && isVisitLevel(dim)) return this.visitVisitorsByValue(siteId, p, dim, only?.map((r) => r.value));
    const match: Document = { site_id: siteId, grain: p.grain, dim, scope, bucket: range(p), refs: { $gt: 0 } };
    if (only) match.value_hash = { $in: only.map((r) => r.hash) };
    const rows = await this.c.members
      .aggregate<{ _id: string; visitors: number }>(
        [{ $match: match }, { $group: { _id: { value_hash: '$value_hash', visitor: '$visitor' } } }, { $group: { _id: '$_id.value_hash', visitors: { $sum: 1 } } }],
        { allowDiskUse: true },
      )
      .toArray();
    return new Map(rows.map((r) => [r._id, Number(r.visitors)]));
  }

  /**
   * Distinct visitors per value of a visit-level dimension over the period: the visits that
   * started in it, in `visits` (by start time) and `visit_members` (by bucket), and the member
   * documents version 2 kept for these values (refs > 0; their value read from the rollup they
   * belong to, as they only hold its hash). Grouped by the value itself, keyed by its hash here.
   */
  private async visitVisitorsByValue(siteId: string, p: Period, dim: number, values?: string[]): Promise<Map<string, number>> {
    const tz = await this.timezoneOf(siteId);
    const slot = slotOf(dim);
    const value = slot < ENTRY_SLOT ? { $ifNull: [{ $arrayElemAt: ['$vals', slot] }, NONE] } : slot === ENTRY_SLOT ? '$entry' : '$exit';
    const from = p.grain === DAY ? dayStart(dayOfNumber(p.from), tz) : p.from;
    const to = p.grain === DAY ? dayStart(dayOfNumber(p.to), tz) : p.to;
    const legacy: Document[] = [
      { $match: { site_id: siteId, grain: p.grain, dim, scope: NONE, bucket: range(p), refs: { $gt: 0 } } },
      {
        $lookup: {
          from: COLLECTION_NAMES.rollups,
          let: { site: '$site_id', grain: '$grain', dim: '$dim', scope: '$scope', bucket: '$bucket', hash: '$value_hash' },
          pipeline: [
            {
              $match: {
                $expr: {
                  $and: [
                    { $eq: ['$site_id', '$$site'] },
                    { $eq: ['$grain', '$$grain'] },
                    { $eq: ['$dim', '$$dim'] },
                    { $eq: ['$scope', '$$scope'] },
                    { $eq: ['$bucket', '$$bucket'] },
                    { $eq: ['$value_hash', '$$hash'] },
                  ],
                },
              },
            },
            { $limit: 1 },
            { $project: { _id: 0, value: 1 } },
          ],
          as: 'rollup',
        },
      },
      { $project: { _id: 0, visitor: 1, v: { $arrayElemAt: ['$rollup.value', 0] } } },
    ];
    const pipeline: Document[] = [
      { $match: { site_id: siteId, start_ms: { $gte: from, $lt: to } } },
      { $project: { _id: 0, visitor: 1, v: value } },
      {
        $unionWith: {
          coll: COLLECTION_NAMES.visitMembers,
          pipeline: [{ $match: { site_id: siteId, [p.grain === DAY ? 'start_day' : 'start_hour']: range(p) } }, { $project: { _id: 0, visitor: 1, v: value } }],
        },
      },
      { $unionWith: { coll: COLLECTION_NAMES.members, pipeline: legacy } },
      // No page view, no entry or exit page.
      ...(slot >= ENTRY_SLOT ? [{ $match: { v: { $ne: NONE } } }] : []),
      ...(values ? [{ $match: { v: { $in: values } } }] : []),
      { $group: { _id: { v: '$v', visitor: '$visitor' } } },
      { $group: { _id: '$_id.v', visitors: { $sum: 1 } } },
    ];
    const rows = await this.c.visits.aggregate<{ _id: string | null; visitors: number }>(pipeline, { allowDiskUse: true }).toArray();
    return new Map(rows.map((r) => [valueHash(r._id ?? NONE), Number(r.visitors)]));
  }

  private async timezoneOf(siteId: string): Promise<string> {
    let tz = this.timezones.get(siteId);
    if (tz === undefined) {
      const site = await this.c.sites.findOne({ _id: siteId }, { projection: { _id: 0, timezone: 1 } });
      tz = site?.timezone ?? 'UTC';
      if (this.timezones.size >= 100_000) this.timezones.clear();
      if (site) this.timezones.set(siteId, tz);
    }
    return tz;
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
