// GET /api/stats/breakdown: one dimension's values for a period, exact visitors, from rollups.
import type { Dimension } from '../core/dimensions.js';
import type { Site } from '../core/site.js';
import type { Period, StatsReader } from '../store/port.js';

export interface BreakdownResult {
  value: string | null;
  visitors: number;
  pageviews?: number;
  events?: number;
  visits?: number;
}

/** Rows by visitors descending, then value ascending; each carries the counts its dimension has. */
export async function breakdownReport(store: StatsReader, site: Site, period: Period, dim: Dimension, scope: string[], limit: number): Promise<BreakdownResult[]> {
  const rows = await store.breakdown(site.site_id, period, { dim: dim.id, scope, limit, order: 'visitors' });
  return rows.map((r) => {
    const out: BreakdownResult = { value: r.value, visitors: r.visitors };
    for (const k of dim.counts) out[k] = r[k];
    return out;
  });
}
