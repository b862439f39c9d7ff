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

/** An event the worker set aside instead of applying (it can never be applied), with the reason. */
export interface RejectedEvent {
  /** The event as it was in the queue (any shape: it may be what made it invalid). */
  event: unknown;
  site_id: string;
  reason: string;
  /** Epoch ms. */
  rejected_at: number;
}

/** Thrown by an adapter for a value it cannot store or read back exactly: a data error. */
export class UnstorableDataError extends Error {}

export class SiteExistsError extends Error {
  constructor(readonly siteId: string) {
    super(`Site "${siteId}" already exists`);
  }
}

export interface AnalyticsStore {
  readonly kind: 'sqlite' | 'postgres' | 'mongodb';
  /** Creates or upgrades the schema; safe to run from several processes at once. */
  migrate(): Promise<void>;
  /**
   * A random id given to this store by its first migration and kept forever: the queue is bound to
   * the store it feeds by this id, so a worker on another database refuses to take its jobs.
   */
  storeId(): Promise<string>;

  createSite(site: Site): Promise<void>;
  getSite(siteId: string): Promise<Site | undefined>;
  listSites(): Promise<Site[]>;

  /**
   * Stores the raw events and updates every rollup, all or nothing. Idempotent per event id:
   * an event applied before (a retried or replayed job) is skipped, so it counts once.
   */
  applyEvents(events: BucketedEvent[], now: number): Promise<ApplyResult>;
  /**
   * True when an applyEvents error is about the events' data (a value this database cannot keep,
   * a constraint), so that applying the same events again fails the same way; false for failures
   * of the store itself (unreachable, a missing table, no permission), which a retry may overcome.
   */
  isDataError(err: unknown): boolean;

  /** Rows only for days that have a rollup row; callers fill the gaps. */
  dailyTotals(siteId: string, from: string, to: string): Promise<DayTotals[]>;
  hourlyTotals(siteId: string, from: number, to: number): Promise<HourTotals[]>;
  /** Exact number of distinct visitors over the range. */
  uniqueVisitors(siteId: string, range: BucketRange): Promise<number>;
  /** Most viewed paths, views descending then path ascending. */
  topPaths(siteId: string, range: BucketRange, limit: number): Promise<PathViews[]>;

  /**
   * Keeps events set aside by the worker (table / collection `rejected_events`). Idempotent: the
   * same event rejected again (a retried job) is kept once. Returns how many were new.
   */
  rejectEvents(rows: RejectedEvent[]): Promise<number>;
  /** Events set aside so far, for one site or all. */
  countRejectedEvents(siteId?: string): Promise<number>;

  /** Deletes raw events older than `before` (epoch ms); rollups are kept. Returns the count. */
  deleteEventsBefore(before: number): Promise<number>;
  /** Makes sure daily rollup rows exist (zero counts) for these site-days. Returns rows created. */
  createPlaceholders(rows: { site_id: string; day: string }[], now: number): Promise<number>;
  /** Raw events stored for a site (for tests and operators; not on a hot path). */
  countEvents(siteId: string): Promise<number>;

  ping(): Promise<void>;
  close(): Promise<void>;
}
