// The AnalyticsStore port: everything the core needs from a database. Adapters: sql/ (SQLite,
// PostgreSQL) and mongo/. Every adapter passes the same contract suite (test/store.contract.ts).
import type { Site } from '../core/site.js';
import type { QueuedEvent } from '../core/event.js';

/** An event with its buckets computed in its site's timezone. */
export interface BucketedEvent extends QueuedEvent {
  day: string;
  hour: number;
  is_pageview: boolean;
}

export interface ApplyResult {
  /** Events applied now. */
  applied: number;
  /** Events skipped because an earlier application already counted them. */
  duplicates: number;
}

export interface Totals {
  views: number;
  uniques: number;
}
export interface DayTotals extends Totals {
  day: string;
}
export interface HourTotals extends Totals {
  hour: number;
}
export interface PathViews {
  path: string;
  views: number;
}

/** Days are inclusive local dates; hours are [from, to) epoch ms of local hour starts. */
export type BucketRange = { days: { from: string; to: string } } | { hours: { from: number; to: number } };

export class SiteExistsError extends Error {
  /** `deleted`: the id belonged to a site that was deleted; ids are never reused (see deleteSite). */
  constructor(
    readonly siteId: string,
    readonly reason: 'exists' | 'deleted' = 'exists',
  ) {
    super(reason === 'deleted' ? `Site id "${siteId}" belonged to a deleted site` : `Site "${siteId}" already exists`);
  }
}

/** What may change on an existing site: its key hashes (rotation) and its share token (null: off). */
export interface SitePatch {
  api_key_hash?: string;
  read_key_hash?: string;
  share_token_hash?: string | null;
}

export interface AnalyticsStore {
  readonly kind: 'sqlite' | 'postgres' | 'mongodb';
  /** Creates or upgrades the schema; safe to run from several processes at once. */
  migrate(): Promise<void>;

  createSite(site: Site): Promise<void>;
  getSite(siteId: string): Promise<Site | undefined>;
  listSites(): Promise<Site[]>;
  /** Changes a site's keys or share token. False when there is no such site. */
  updateSite(siteId: string, patch: SitePatch): Promise<boolean>;
  /**
   * Deletes the site, then every row of every table (or collection) holding its `site_id`: raw
   * events, rollups, dictionaries. The id is remembered and never given to a new site, because
   * workers keep per-site caches (dictionary ids, counted visitors) that a new site of the same id
   * would inherit. False when there was no such site (its data is purged all the same).
   */
  deleteSite(siteId: string, now: number): Promise<boolean>;

  /**
   * Stores the raw events and updates every rollup, all or nothing. Idempotent per event id:
   * an event applied before (a retried or replayed job) is skipped, so it counts once.
   */
  applyEvents(events: BucketedEvent[], now: number): Promise<ApplyResult>;

  /** Rows only for days that have a rollup row; callers fill the gaps. */
  dailyTotals(siteId: string, from: string, to: string): Promise<DayTotals[]>;
  hourlyTotals(siteId: string, from: number, to: number): Promise<HourTotals[]>;
  /** Exact number of distinct visitors over the range. */
  uniqueVisitors(siteId: string, range: BucketRange): Promise<number>;
  /** Most viewed paths, views descending then path ascending. */
  topPaths(siteId: string, range: BucketRange, limit: number): Promise<PathViews[]>;

  /** Deletes raw events older than `before` (epoch ms); rollups are kept. Returns the count. */
  deleteEventsBefore(before: number): Promise<number>;
  /** Makes sure daily rollup rows exist (zero counts) for these site-days. Returns rows created. */
  createPlaceholders(rows: { site_id: string; day: string }[], now: number): Promise<number>;
  /** Raw events stored for a site (for tests and operators; not on a hot path). */
  countEvents(siteId: string): Promise<number>;

  ping(): Promise<void>;
  close(): Promise<void>;
}
