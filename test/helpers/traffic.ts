// Known traffic for end-to-end and fault tests: events whose exact statistics are computed here,
// a sender that records which requests were acknowledged, and readers of what was counted.
import Database from 'better-sqlite3';
import path from 'node:path';
import pg from 'pg';
import type { SiteKeys, System } from './system.js';

export interface SentEvent {
  seq: number;
  body: { site_id: string; event_type: string; path: string; user_id: string };
}

/** Event `seq`: its own user id (`e<seq>`) so each counted event can be traced; 15 paths, skewed. */
export function trafficEvent(site: SiteKeys, seq: number): SentEvent {
  const path = `/page-${(seq * seq) % 15}`;
  return { seq, body: { site_id: site.site_id, event_type: 'pageview', path, user_id: `e${seq}` } };
}

/** The exact day statistics of these events (all page views, one visitor each). */
export function expectedStats(events: SentEvent[]) {
  const paths = new Map<string, number>();
  for (const e of events) paths.set(e.body.path, (paths.get(e.body.path) ?? 0) + 1);
  const top = [...paths].map(([p, views]) => ({ path: p, views }));
  top.sort((a, b) => b.views - a.views || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { total_views: events.length, unique_users_count: new Set(events.map((e) => e.body.user_id)).size, top_paths: top.slice(0, 10) };
}

export interface SendResult {
  acked: SentEvent[];
  refused: SentEvent[];
  statuses: Map<number, number>;
}

/** Sends events with `concurrency` requests in flight; stops early when `stop()` says so. */
export async function sendEvents(
  sys: System,
  site: SiteKeys,
  events: SentEvent[],
  opts: { concurrency?: number; stop?: () => boolean; onAck?: (n: number) => void } = {},
): Promise<SendResult> {
  const result: SendResult = { acked: [], refused: [], statuses: new Map() };
  let next = 0;
  const worker = async () => {
    while (next < events.length && !opts.stop?.()) {
      const e = events[next++]!;
      let status: number;
      try {
        status = (await sys.sendEvent(site, e.body)).status;
      } catch {
        status = 0; // connection refused or reset: not acknowledged
      }
      result.statuses.set(status, (result.statuses.get(status) ?? 0) + 1);
      if (status === 202) {
        result.acked.push(e);
        opts.onAck?.(result.acked.length);
      } else result.refused.push(e);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 32 }, worker));
  return result;
}

/** The user ids of the raw events stored for the site, read from the database itself. */
export async function storedUserIds(sys: System, site: SiteKeys): Promise<string[]> {
  if (sys.env.DATABASE_URL) {
    const client = new pg.Client({ connectionString: sys.env.DATABASE_URL });
    await client.connect();
    try {
      const schema = sys.env.DATABASE_SCHEMA ?? 'public';
      const res = await client.query(`select user_id from "${schema}".events where site_id = $1`, [site.site_id]);
      return res.rows.map((r) => r.user_id as string);
    } finally {
      await client.end();
    }
  }
  const db = new Database(path.join(sys.env.DATA_DIR!, 'analytics.db'), { readonly: true });
  try {
    return (db.prepare('select user_id from events where site_id = ?').all(site.site_id) as { user_id: string }[]).map((r) => r.user_id);
  } finally {
    db.close();
  }
}
