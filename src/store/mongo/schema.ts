// Collections of the MongoDB store, their documents and their indexes.
// Every field name below is fixed: user input (paths, user ids) only ever appears as a value.
import type { Collection, Db, IndexDescription } from 'mongodb';

export { pathHash } from '../path-hash.js';

export interface SiteDoc {
  /** The site id: `_id` makes a second site with the same id a duplicate-key error. */
  _id: string;
  site_id: string;
  name: string;
  timezone: string;
  api_key_hash: string;
  read_key_hash: string;
  created_at: Date;
}

/** The spec's `events` collection: raw events, `_id` = event id so an event is stored once. */
export interface EventDoc {
  _id: string;
  site_id: string;
  event_type: string;
  path: string;
  user_id: string;
  timestamp: Date;
  received_at: Date;
  processed_at: Date;
}

/** The spec's `daily_stats`, with counts instead of the spec's `unique_users: string[]`. */
export interface DailyStatsDoc {
  site_id: string;
  date: string;
  total_views: number;
  unique_users: number;
  created_at: Date;
  updated_at: Date;
}

/** `hour` is the epoch ms at which the local hour starts (see src/core/time.ts). */
export interface HourlyStatsDoc {
  site_id: string;
  hour: number;
  total_views: number;
  unique_users: number;
  created_at: Date;
  updated_at: Date;
}

/** One document per (site, day, visitor): their count is the day's exact unique users. */
export interface DailyVisitorDoc {
  site_id: string;
  date: string;
  user_id: string;
  created_at: Date;
}

export interface HourlyVisitorDoc {
  site_id: string;
  hour: number;
  user_id: string;
  created_at: Date;
}

/** Page views per (site, day, path). The key holds a hash: a path may be 2,000 characters of unicode. */
export interface DailyPathDoc {
  site_id: string;
  date: string;
  path_hash: string;
  path: string;
  views: number;
}

export interface HourlyPathDoc {
  site_id: string;
  hour: number;
  path_hash: string;
  path: string;
  views: number;
}

/** Facts about the store itself: `{ _id: 'store_id', value }`, its random id (queue binding). */
export interface MetaDoc {
  _id: string;
  value: string;
}

/** An event the worker set aside; `_id` is a hash of the event JSON, so it is kept once. */
export interface RejectedEventDoc {
  _id: string;
  site_id: string;
  event_id: string | null;
  /** The event as JSON text: the values that made it unstorable are kept exactly (escaped). */
  event: string;
  error: string;
  rejected_at: Date;
}

export interface Collections {
  sites: Collection<SiteDoc>;
  events: Collection<EventDoc>;
  dailyStats: Collection<DailyStatsDoc>;
  dailyVisitors: Collection<DailyVisitorDoc>;
  dailyPaths: Collection<DailyPathDoc>;
  hourlyStats: Collection<HourlyStatsDoc>;
  hourlyVisitors: Collection<HourlyVisitorDoc>;
  hourlyPaths: Collection<HourlyPathDoc>;
  meta: Collection<MetaDoc>;
  rejectedEvents: Collection<RejectedEventDoc>;
}

export function collections(db: Db): Collections {
  return {
    sites: db.collection<SiteDoc>('sites'),
    events: db.collection<EventDoc>('events'),
    dailyStats: db.collection<DailyStatsDoc>('daily_stats'),
    dailyVisitors: db.collection<DailyVisitorDoc>('daily_visitors'),
    dailyPaths: db.collection<DailyPathDoc>('daily_paths'),
    hourlyStats: db.collection<HourlyStatsDoc>('hourly_stats'),
    hourlyVisitors: db.collection<HourlyVisitorDoc>('hourly_visitors'),
    hourlyPaths: db.collection<HourlyPathDoc>('hourly_paths'),
    meta: db.collection<MetaDoc>('meta'),
    rejectedEvents: db.collection<RejectedEventDoc>('rejected_events'),
  };
}

/**
 * Indexes per collection. Names are left to the server's default (`site_id_1_timestamp_-1`), so an
 * index created by hand or by another tool from the spec's key is the same index, not a conflict.
 */
export const INDEXES: Record<keyof Collections, IndexDescription[]> = {
  sites: [
    { key: { api_key_hash: 1 }, unique: true },
    { key: { read_key_hash: 1 }, unique: true },
  ],
  // The spec's index; retention deletes per site by timestamp through it.
  events: [{ key: { site_id: 1, timestamp: -1 } }],
  // The spec's unique index.
  dailyStats: [{ key: { site_id: 1, date: 1 }, unique: true }],
  dailyVisitors: [{ key: { site_id: 1, date: 1, user_id: 1 }, unique: true }],
  dailyPaths: [{ key: { site_id: 1, date: 1, path_hash: 1 }, unique: true }],
  hourlyStats: [{ key: { site_id: 1, hour: 1 }, unique: true }],
  hourlyVisitors: [{ key: { site_id: 1, hour: 1, user_id: 1 }, unique: true }],
  hourlyPaths: [{ key: { site_id: 1, hour: 1, path_hash: 1 }, unique: true }],
  meta: [],
  rejectedEvents: [{ key: { site_id: 1, rejected_at: 1 } }],
};

/**
 * Creates the collections (implicitly) and their indexes. createIndexes with an existing, identical
 * spec is a no-op on the server, and concurrent identical builds wait for each other, so several
 * processes may run this at once.
 */
export async function createIndexes(c: Collections): Promise<void> {
  for (const [name, indexes] of Object.entries(INDEXES) as [keyof Collections, IndexDescription[]][]) {
    if (indexes.length > 0) await (c[name] as unknown as Collection).createIndexes(indexes);
  }
}
