// Visits under faults: the fixed script of the visits issue, repeated for many visitors, sent in
// time order through the API to two BullMQ workers while one of them is killed with kill -9. Jobs
// then commit in any order (the killed worker's come back after their lock expires): the visits,
// bounces, durations and entry/exit pages must be the same numbers as for one quiet worker.
import { describe, expect, it } from 'vitest';
import { localDay } from '../src/core/time.js';
import { REDIS_URL, serviceAvailable } from './helpers/services.js';
import { System, sleep, type SiteKeys } from './helpers/system.js';
import { until } from './helpers/wait.js';

const redisUp = await serviceAvailable('Redis', REDIS_URL);
const MIN = 60_000;
const GROUPS = 150;

/** Per group: a (3 views over 5 min), b (a bounce), c (back after 40 min), d (a view and a custom event). */
function script(siteId: string, t0: number) {
  const events: { ts: number; body: Record<string, unknown> }[] = [];
  for (let g = 0; g < GROUPS; g++) {
    const t = t0 + g * 1000; // groups interleave in time
    const e = (user: string, dt: number, path: string, type = 'pageview') =>
      events.push({ ts: t + dt, body: { site_id: siteId, event_type: type, path, user_id: `${user}${g}`, timestamp: new Date(t + dt).toISOString() } });
    e('a', 0, '/');
    e('a', 2 * MIN, '/pricing');
    e('a', 5 * MIN, '/signup');
    e('b', MIN, '/blog');
    e('c', 0, '/');
    e('c', 40 * MIN, '/docs');
    e('d', 10 * MIN, '/pricing');
    e('d', 11 * MIN, '/pricing', 'signup');
  }
  return events.sort((x, y) => x.ts - y.ts);
}

describe.runIf(redisUp)('visits with two workers and a kill -9', () => {
  it('gives the script\'s exact visits, bounce rate, durations and entry and exit pages', async () => {
    const sys = await System.start({ mode: 'bullmq', workers: 2, env: { QUEUE_LOCK_MS: '2000', INGEST_BATCH_MAX: '20' } });
    try {
      const site: SiteKeys = await sys.createSite('Visits under faults');
      const t0 = Date.now() - 3 * 3600_000;
      const events = script(site.site_id, t0);
      let acked = 0;
      let killed = false;
      const sendAll = async () => {
        // A few clients at a time, in time order: jobs are small and many, spread over both workers.
        for (let i = 0; i < events.length; i += 8) {
          const codes = await Promise.all(events.slice(i, i + 8).map((e) => sys.sendEvent(site, e.body).then((r) => r.status)));
          expect(new Set(codes)).toEqual(new Set([202]));
          acked += codes.length;
          if (!killed && acked >= events.length / 3) {
            killed = true;
            process.kill(sys.workers[0]!.pid, 'SIGKILL');
          }
        }
      };
      await sendAll();
      await sys.workers[0]!.exited;
      // Both workers took part before the kill.
      for (const w of sys.workers) expect(w.output()).toMatch(/processed successfully/);
      const day = localDay(t0, 'UTC');
      const q = `&from=${day}&to=${localDay(Date.now(), 'UTC')}`;
      const data = await sys.statsWhen(site, q, (d) => d.total_views + d.visits >= 7 * GROUPS + 5 * GROUPS, 120_000);
      await sleep(1500);
      const final = (await sys.stats(site, q)).json.data;
      expect(final).toMatchObject({
        total_views: 7 * GROUPS,
        unique_users_count: 4 * GROUPS,
        visits: 5 * GROUPS,
        bounce_rate: 60,
        visit_duration: 72,
        views_per_visit: 1.4,
      });
      expect(data.visits).toBe(5 * GROUPS);
      const breakdown = async (dimension: string) =>
        (await sys.request('GET', `/api/stats/breakdown?site_id=${site.site_id}${q}&dimension=${dimension}`, { headers: { authorization: `Bearer ${site.read_key}` } })).json.data.results;
      expect(await breakdown('entry_page')).toEqual([
        { value: '/', visitors: 2 * GROUPS, visits: 2 * GROUPS },
        { value: '/blog', visitors: GROUPS, visits: GROUPS },
        { value: '/docs', visitors: GROUPS, visits: GROUPS },
        { value: '/pricing', visitors: GROUPS, visits: GROUPS },
      ]);
      expect(await breakdown('exit_page')).toEqual([
        { value: '/', visitors: GROUPS, visits: GROUPS },
        { value: '/blog', visitors: GROUPS, visits: GROUPS },
        { value: '/docs', visitors: GROUPS, visits: GROUPS },
        { value: '/pricing', visitors: GROUPS, visits: GROUPS },
        { value: '/signup', visitors: GROUPS, visits: GROUPS },
      ]);
      await until(() => killed, 'the kill');
      console.log(`[fault visits] two workers, kill -9 of one after ${Math.round(events.length / 3)} events: sent ${events.length}, acknowledged ${acked}, visits ${final.visits} (expected ${5 * GROUPS}), bounce rate ${final.bounce_rate}%, duration ${final.visit_duration} s`);
    } finally {
      await sys.stop();
    }
  }, 180_000);
});
