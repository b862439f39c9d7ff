// Exact unique visitors at a size CI can afford (the 1,000,000-visitor day is in `npm run bench`):
// 100,000 distinct visitors in one day, applied in worker-sized batches, counted exactly.
import { describe, expect, it } from 'vitest';
import { uuidv7 } from '../src/core/id.js';
import { newSite } from '../src/core/site.js';
import { dayReport, rangeReport } from '../src/reports/stats.js';
import type { PreparedEvent } from '../src/store/port.js';
import { prepareEvent } from '../src/worker/prepare.js';
import { POSTGRES_URL, serviceAvailable } from './helpers/services.js';
import { postgresHarness, sqliteHarness } from './helpers/stores.js';
import type { StoreHarness } from './store.contract.js';

const pgUp = await serviceAvailable('PostgreSQL', POSTGRES_URL);
const harnesses: [string, () => Promise<StoreHarness>][] = [['SQLite', sqliteHarness], ...(pgUp ? [['PostgreSQL', postgresHarness] as [string, () => Promise<StoreHarness>]] : [])];

const VISITORS = 100_000;
const DAY1 = Date.parse('2024-06-15T00:00:00Z');
const DAY2 = Date.parse('2024-06-16T00:00:00Z');

describe.each(harnesses)('exact uniques at scale (%s)', (_name, open) => {
  it(`counts ${VISITORS} distinct visitors in a day exactly, and their union over two days`, async () => {
    const h = await open();
    try {
      const site = newSite('scale', 'Scale', 'UTC', DAY1).site;
      await h.store.createSite(site);
      const event = (visitor: number, ts: number): PreparedEvent =>
        prepareEvent({ id: uuidv7(ts), site_id: site.site_id, type: 'pageview', path: `/p${visitor % 500}`, visitor: `u:visitor-${visitor}`, ts, received_at: ts }, site);
      // Day 1: every visitor once, a third of them once more late in the day.
      // Day 2: visitors 50,000..129,999 (30,000 new ones).
      const batches: PreparedEvent[][] = [];
      let batch: PreparedEvent[] = [];
      const push = (e: PreparedEvent) => {
        batch.push(e);
        if (batch.length === 5000) {
          batches.push(batch);
          batch = [];
        }
      };
      for (let v = 0; v < VISITORS; v++) push(event(v, DAY1 + (v % 86_000) * 1000));
      for (let v = 0; v < VISITORS; v += 3) push(event(v, DAY1 + 86_000_000 + (v % 400) * 1000));
      for (let v = 50_000; v < 130_000; v++) push(event(v, DAY2 + (v % 80_000) * 1000));
      batches.push(batch);
      let applied = 0;
      for (const b of batches) applied += (await h.store.applyEvents(b, { now: DAY2, sessionTimeoutMs: 30 * 60_000 })).applied;
      const total = batches.reduce((n, b) => n + b.length, 0);
      expect(applied).toBe(total);

      expect(await dayReport(h.store, site, '2024-06-15')).toMatchObject({ total_views: VISITORS + Math.ceil(VISITORS / 3), unique_users_count: VISITORS });
      expect(await dayReport(h.store, site, '2024-06-16')).toMatchObject({ total_views: 80_000, unique_users_count: 80_000 });
      const range = await rangeReport(h.store, site, '2024-06-15', '2024-06-16', 'day');
      expect(range.unique_users_count).toBe(130_000);
      expect(range.total_views).toBe(total);
      // Hourly rollups add up to the day, and their union over the day is the day's visitors.
      const hours = await h.store.summary(site.site_id, { grain: 2, from: DAY1, to: DAY2 });
      expect(hours.series.reduce((n, x) => n + x.pageviews, 0)).toBe(VISITORS + Math.ceil(VISITORS / 3));
      expect(hours.visitors).toBe(VISITORS);
    } finally {
      await h.cleanup();
    }
  }, 180_000);
});
