// GET /api/stats/realtime: who is on the site now. Reads the visits' state (one row per visitor,
// indexed by its last event) and the raw events of the last 30 minutes, never older ones.
import type { Site } from '../core/site.js';
import type { StatsReader } from '../store/port.js';

export const REALTIME_VISITORS_MS = 5 * 60_000;
export const REALTIME_PAGEVIEWS_MS = 30 * 60_000;
const TOP_PAGES = 10;

export async function realtimeReport(store: StatsReader, site: Site, now: number) {
  const r = await store.realtime(site.site_id, { since: now - REALTIME_VISITORS_MS, pageviewsSince: now - REALTIME_PAGEVIEWS_MS, limit: TOP_PAGES });
  return {
    site_id: site.site_id,
    /** Distinct visitors with an event in the last 5 minutes. */
    visitors: r.visitors,
    /** Page views in the last 30 minutes. */
    pageviews: r.pageviews,
    /** The pages those visitors are on now (their latest page view), by visitors. */
    top_pages: r.pages.map((p) => ({ path: p.value, visitors: p.visitors })),
    at: new Date(now).toISOString(),
  };
}
