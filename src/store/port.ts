// The store, as narrow ports: each process takes only what it uses (the API: sites, salts and the
// stats reader; the worker: sites and the event sink; cron: maintenance). One adapter implements
// them all per database — sql/ (SQLite, PostgreSQL) and mongo/ — and one factory (index.ts) picks
// it. Every adapter passes the same contract suite (test/store.contract.ts).
import type { Site } from '../core/site.js';
import type { DerivedEvent } from '../core/derive.js';
import type { EventBuckets, Grain } from '../core/plan.js';
import type { Salt } from '../core/salt.js';

/** An event the worker prepared: derived, bucketed in its site's timezone, with its dimension values. */
export interface PreparedEvent extends DerivedEvent {
  timezone: string;
  buckets: EventBuckets;
  /** [dimension id, scope, value] of the event-level dimensions (page, event, properties). */
  eventValues: [number, string, string | null][];
  /** Values of the visit dimensions, in VISIT_DIMENSIONS order. */
  visitValues: (string | null)[];
}

export interface ApplyOptions {
  now: number;
  /** SESSION_TIMEOUT_MINUTES in ms: the gap that ends a visit. */
  sessionTimeoutMs: number;
}

export interface ApplyResult {
  /** Events applied now (counted, or counted as ignored). */
  applied: number;
  /** Events skipped because an earlier application already counted them. */
  duplicates: number;
  /**
   * Ids of new events not applied because they are older than the retention cutoff the
   * maintenance recorded (Maintenance.deleteEventsBefore): their raw events may be gone, so an
   * event counted before could not be told apart and would count twice. The worker sets them
   * aside. Absent when there are none.
   */
  expired?: string[];
}

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

export interface SiteStore {
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
}

export interface EventSink {
  /**
   * Stores the raw events and applies them to every rollup and to their visitors' visits, all or
   * nothing. Idempotent per event id: an event applied before (a retried or replayed job, or a
   * client resending the same event_id) is skipped, so it counts once.
   */
  applyEvents(events: PreparedEvent[], opts: ApplyOptions): Promise<ApplyResult>;
  /**
   * True when an applyEvents error is about the events' data (a value this database cannot keep,
   * a constraint), so that applying the same events again fails the same way; false for failures
   * of the store itself (unreachable, a missing table, no permission), which a retry may overcome.
   */
  isDataError(err: unknown): boolean;
  /**
   * Keeps events set aside by the worker (table / collection `rejected_events`). Idempotent: the
   * same event rejected again (a retried job) is kept once. Returns how many were new.
   */
  rejectEvents(rows: RejectedEvent[]): Promise<number>;
}

/** A run of buckets of one grain: local days as day numbers, or hour starts in epoch ms; `to` excluded. */
export interface Period {
  grain: Grain;
  from: number;
  to: number;
}

export interface Counts {
  pageviews: number;
  events: number;
  /** Exact distinct visitors over the whole period. */
  visitors: number;
  visits: number;
  bounces: number;
  durationMs: number;
}

export interface BucketCounts extends Counts {
  bucket: number;
}

export interface Summary extends Counts {
  /** One point per bucket that has data; readers fill the gaps. */
  series: BucketCounts[];
  /** Events accepted but not counted, per reason (`bot`). */
  ignored: Record<string, number>;
}

export interface BreakdownRow extends Counts {
  value: string | null;
}

export interface BreakdownQuery {
  dim: number;
  /** The scope's parts (a property's event name and key), empty for unscoped dimensions. */
  scope: string[];
  limit: number;
  /** `visitors` (the breakdown API) or `pageviews` (the spec's top_paths). */
  order: 'visitors' | 'pageviews';
  /**
   * false: rows ordered by page views need no exact visitors (the spec's top_paths), and over several
   * buckets their `visitors` is not computed (0). Default true.
   */
  withVisitors?: boolean;
}

export interface Realtime {
  /** Distinct visitors with an event since `since` (visits whose last event is that recent). */
  visitors: number;
  /** Page views since `pageviewsSince`. */
  pageviews: number;
  /** Pages the recent visitors are on (their visit's latest page view), visitors descending. */
  pages: { value: string; visitors: number }[];
}

export interface StatsReader {
  summary(siteId: string, period: Period): Promise<Summary>;
  /** Rows ordered by `order` descending, then value ascending (null first). */
  breakdown(siteId: string, period: Period, query: BreakdownQuery): Promise<BreakdownRow[]>;
  realtime(siteId: string, opts: { since: number; pageviewsSince: number; limit: number }): Promise<Realtime>;
}

export interface SaltStore {
  listSalts(): Promise<Salt[]>;
  /** Stores `salt` for `day` unless one exists; returns the salt every process will use. */
  ensureSalt(day: string, salt: string, now: number): Promise<string>;
  /** Deletes the salts of dates before `day`. */
  deleteSaltsBefore(day: string): Promise<number>;
}

export interface Maintenance {
  /**
   * Retention: first records `before` as the store's retention cutoff (kept at its highest), then
   * deletes raw (and ignored) events older than `before` (epoch ms) and hashed visitors whose salt
   * date is before `beforeDay` (day number). Rollups and visits are kept. From then on applyEvents
   * does not apply a new event older than the cutoff (ApplyResult.expired): raw events are what
   * make applying idempotent, and they are gone. Returns the number of raw events deleted.
   */
  deleteEventsBefore(before: number, beforeDay: number): Promise<number>;
  /**
   * Moves the visits whose last event is older than `before` from the visit states to the
   * append-only visit members (what readers need of them: they are the membership of visit-level
   * dimensions, kept as long as the rollups). One transaction per chunk. Returns visits moved.
   */
  moveVisitsBefore(before: number): Promise<number>;
  /** Makes sure daily totals rows exist (zero counts) for these site-days. Returns rows created. */
  createPlaceholders(rows: { site_id: string; day: string }[], now: number): Promise<number>;
  /** Raw events stored for a site (for tests and operators; not on a hot path). */
  countEvents(siteId: string): Promise<number>;
  /** Events set aside so far, for one site or all. */
  countRejectedEvents(siteId?: string): Promise<number>;
}

/** A worker's last sign of life (src/queue/heartbeat.ts). Times in epoch ms. */
export interface WorkerHeartbeat {
  /** `host/pid/random`: unique per start of a worker. */
  worker_id: string;
  host: string;
  /** The process id (a worker thread: `pid-threadId`). */
  pid: string;
  started_at: number;
  seen_at: number;
}

/**
 * Worker heartbeats, for queues that have no place of their own for them (SQS): table / collection
 * `worker_heartbeats`, one row per worker.
 */
export interface HeartbeatStore {
  /** Upserts the worker's row, and deletes rows last seen before `pruneBefore`. */
  recordHeartbeat(hb: WorkerHeartbeat, pruneBefore: number): Promise<void>;
  /** Rows seen at or after `since`, newest first. */
  listHeartbeats(since: number): Promise<WorkerHeartbeat[]>;
  deleteHeartbeat(workerId: string): Promise<void>;
}

export interface AnalyticsStore extends SiteStore, EventSink, StatsReader, SaltStore, Maintenance, HeartbeatStore {
  readonly kind: 'sqlite' | 'postgres' | 'mongodb';
  /** Creates or upgrades the schema; safe to run from several processes at once. */
  migrate(): Promise<void>;
  /**
   * A random id given to this store by its first migration and kept forever: the queue is bound to
   * the store it feeds by this id, so a worker on another database refuses to take its jobs.
   */
  storeId(): Promise<string>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
