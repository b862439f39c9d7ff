// Collections of the MongoDB store (schema version 2), their documents and their indexes.
// Every field name below is fixed: what comes from events (paths, visitors, property names and
// values, sources, …) only ever appears as a value, never as a key or field name.
import type { Collection, Db, IndexDescription } from 'mongodb';
import { pathHash } from '../path-hash.js';

/** "No value" in plans, rollups, members and visits. */
export const NONE = '';

/**
 * A unique key cannot hold a 2,000-character path (or any long value) comfortably: keys match a
 * value by its SHA-256, and the value itself is stored next to it. "No value" is '' and keeps ''.
 */
export const valueHash = (value: string): string => (value === NONE ? NONE : pathHash(value));

export interface SiteDoc {
  /** The site id: `_id` makes a second site with the same id a duplicate-key error. */
  _id: string;
  site_id: string;
  name: string;
  timezone: string;
  api_key_hash: string;
  read_key_hash: string;
  created_at: Date;
  share_token_hash?: string;
}

/** Ids of deleted sites: never given to a new site (workers keep per-site caches). */
export interface DeletedSiteDoc {
  _id: string;
  deleted_at: Date;
}

/** The spec's `events` collection: raw events, `_id` = event id so an event is stored once. */
export interface EventDoc {
  _id: string;
  site_id: string;
  event_type: string;
  path: string;
  /** The sender's user id; null for cookieless (hashed) visitors. */
  user_id: string | null;
  /** The encoded visitor (core/visitor.ts). */
  visitor: string;
  is_pageview: boolean;
  timestamp: Date;
  received_at: Date;
  processed_at: Date;
  /** Custom properties as a list of pairs: their names are input, so never field names. */
  props?: { key: string; value: string | number | boolean }[];
  /** Derived values, under the fixed names of the derived fields (absent ones left out). */
  dims?: Partial<Record<DerivedField, string>>;
}

export const DERIVED_FIELDS = [
  'source',
  'referrer',
  'utm_source',
  'utm_medium',
  'utm_campaign',
  'utm_term',
  'utm_content',
  'browser',
  'os',
  'device',
  'country',
  'language',
  'screen',
] as const;
export type DerivedField = (typeof DERIVED_FIELDS)[number];

/** Events accepted but not counted (bots): kept like raw events, for idempotency and inspection. */
export interface IgnoredEventDoc {
  _id: string;
  site_id: string;
  reason: string;
  event_type: string;
  path: string;
  timestamp: Date;
  received_at: Date;
}

/**
 * One per site and visitor. Every transaction that applies events of a visitor first upserts its
 * document with `$inc: {batches: 1}`: two transactions touching the same visitor then write the
 * same document, and MongoDB lets only one of them commit (the other retries with a new snapshot),
 * so visits never overlap. `day`: the salt date (day number) of hashed and one-off visitors, for
 * retention; null for given user ids.
 */
export interface VisitorDoc {
  site_id: string;
  visitor: string;
  day: number | null;
  batches: number;
}

/**
 * The counters of every dimension: one document per (site, grain, dimension, scope, bucket, value).
 * grain 1 = local day (bucket: days since 1970), 2 = local hour (bucket: epoch ms of its start).
 * Dimension ids come from src/core/dimensions.ts; scope is '' or a JSON array (dimensions.scopeOf);
 * '' is "no value".
 */
export interface RollupDoc {
  site_id: string;
  grain: number;
  dim: number;
  scope: string;
  bucket: number;
  value_hash: string;
  value: string;
  pageviews: number;
  events: number;
  visitors: number;
  visits: number;
  bounces: number;
  duration_ms: number;
  /** On totals documents (dim 0): bumped by every transaction that changes the bucket. */
  revision: number;
}

/**
 * Which visitors a rollup of an event-level value counts (totals, pages, events, properties): its
 * `visitors` is the number of its member documents (refs 1, inserted if absent). Version 2 also
 * kept reference counts of visit-level values here; those documents stay and readers count the
 * ones with refs > 0. Visit-level values now take their members from the visits (read.ts).
 */
export interface MemberDoc {
  site_id: string;
  grain: number;
  dim: number;
  scope: string;
  bucket: number;
  visitor: string;
  value_hash: string;
  refs: number;
}

/**
 * One visit (core/plan.ts VisitRecord), shared by every worker; the membership of visit-level
 * dimensions too. Past the retention horizon it moves to `visit_members`.
 */
export interface VisitDoc {
  site_id: string;
  visitor: string;
  start_ms: number;
  last_ms: number;
  /** Values of the visit dimensions of its first event, in VISIT_DIMENSIONS order ('' = none). */
  vals: string[];
  /** Path and time of its first and last page view ('' and -1 while it has none). */
  entry: string;
  entry_ms: number;
  exit: string;
  exit_ms: number;
  pageviews: number;
  events: number;
}

/**
 * A visit past the retention horizon, as much of it as the membership of visit-level dimensions
 * needs (append-only): its visitor and values, by the local day and hour it started in.
 */
export interface VisitMemberDoc {
  site_id: string;
  /** Local day (days since 1970) and local hour (epoch ms) of its start. */
  start_day: number;
  start_hour: number;
  visitor: string;
  vals: string[];
  entry: string;
  exit: string;
}

/** The daily salts of the cookieless visitor hash (core/salt.ts), one per date. */
export interface SaltDoc {
  _id: string;
  salt: string;
  created_at: Date;
}

/**
 * Schema versions applied (`_id` = version number, see migrate.ts) and the migration lock
 * (`_id` = 'lock') that lets one process at a time migrate.
 */
export interface SchemaMigrationDoc {
  _id: number | 'lock';
  applied_at?: Date;
  owner?: string;
  expires_at?: Date;
}

/**
 * Facts about the store itself: `{ _id: 'store_id', value }`, its random id (queue binding), and
 * `{ _id: 'retention_cutoff_ms', value }`, the retention cutoff (epoch ms as text) recorded by the
 * maintenance before it deletes raw events.
 */
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
  deletedSites: Collection<DeletedSiteDoc>;
  events: Collection<EventDoc>;
  ignoredEvents: Collection<IgnoredEventDoc>;
  visitors: Collection<VisitorDoc>;
  rollups: Collection<RollupDoc>;
  members: Collection<MemberDoc>;
  visits: Collection<VisitDoc>;
  visitMembers: Collection<VisitMemberDoc>;
  salts: Collection<SaltDoc>;
  schemaMigrations: Collection<SchemaMigrationDoc>;
  meta: Collection<MetaDoc>;
  rejectedEvents: Collection<RejectedEventDoc>;
  workerHeartbeats: Collection<WorkerHeartbeatDoc>;
}

/** One document per worker, `_id` = its worker id (used when the queue has no place for heartbeats: SQS). */
export interface WorkerHeartbeatDoc {
  _id: string;
  host: string;
  pid: string;
  started_at: number;
  seen_at: number;
}

export const COLLECTION_NAMES: Record<keyof Collections, string> = {
  sites: 'sites',
  deletedSites: 'deleted_sites',
  events: 'events',
  ignoredEvents: 'ignored_events',
  visitors: 'visitors',
  rollups: 'rollups',
  members: 'members',
  visits: 'visits',
  visitMembers: 'visit_members',
  salts: 'salts',
  schemaMigrations: 'schema_migrations',
  meta: 'meta',
  rejectedEvents: 'rejected_events',
  workerHeartbeats: 'worker_heartbeats',
};

export function collections(db: Db): Collections {
  const c = <T extends object>(name: keyof Collections) => db.collection<T>(COLLECTION_NAMES[name]);
  return {
    sites: c<SiteDoc>('sites'),
    deletedSites: c<DeletedSiteDoc>('deletedSites'),
    events: c<EventDoc>('events'),
    ignoredEvents: c<IgnoredEventDoc>('ignoredEvents'),
    visitors: c<VisitorDoc>('visitors'),
    rollups: c<RollupDoc>('rollups'),
    members: c<MemberDoc>('members'),
    visits: c<VisitDoc>('visits'),
    visitMembers: c<VisitMemberDoc>('visitMembers'),
    salts: c<SaltDoc>('salts'),
    schemaMigrations: c<SchemaMigrationDoc>('schemaMigrations'),
    meta: c<MetaDoc>('meta'),
    rejectedEvents: c<RejectedEventDoc>('rejectedEvents'),
    workerHeartbeats: c<WorkerHeartbeatDoc>('workerHeartbeats'),
  };
}

/**
 * Indexes per collection. Names are left to the server's default (`site_id_1_timestamp_-1`), so an
 * index created by hand or by another tool from the same key is the same index, not a conflict.
 * Deleted site ids, schema versions and salts are found by `_id` only.
 */
export const INDEXES: Partial<Record<keyof Collections, IndexDescription[]>> = {
  sites: [
    { key: { api_key_hash: 1 }, unique: true },
    { key: { read_key_hash: 1 }, unique: true },
  ],
  // The spec's index: retention per site, and realtime's page views of the last 30 minutes.
  events: [{ key: { site_id: 1, timestamp: -1 } }],
  ignoredEvents: [{ key: { site_id: 1, timestamp: -1 } }],
  visitors: [{ key: { site_id: 1, visitor: 1 }, unique: true }, { key: { site_id: 1, day: 1 } }],
  // Reads match (site, grain, dim, scope) and a range of buckets: a prefix of the key.
  rollups: [{ key: { site_id: 1, grain: 1, dim: 1, scope: 1, bucket: 1, value_hash: 1 }, unique: true }],
  // The visitor before the value: the members of a batch's visitors are found by index.
  members: [{ key: { site_id: 1, grain: 1, dim: 1, scope: 1, bucket: 1, visitor: 1, value_hash: 1 }, unique: true }],
  // The visits of a batch's visitors; realtime and retention by the time of their last event;
  // the members of visit-level values of a period by their start.
  visits: [{ key: { site_id: 1, visitor: 1, start_ms: 1 }, unique: true }, { key: { site_id: 1, last_ms: 1 } }, { key: { site_id: 1, start_ms: 1 } }],
  // Visits past retention, read by the buckets they started in. (No data step for this change:
  // member documents of visit-level values written before stay, and readers count those with
  // refs > 0; a visit still open at the upgrade and changed later can leave one stale document,
  // seen only by range unions over the upgrade's day.)
  visitMembers: [{ key: { site_id: 1, start_day: 1 } }, { key: { site_id: 1, start_hour: 1 } }],
  rejectedEvents: [{ key: { site_id: 1, rejected_at: 1 } }],
};

/**
 * Creates the collections (implicitly) and their indexes. createIndexes with an existing, identical
 * spec is a no-op on the server, and concurrent identical builds wait for each other, so several
 * processes may run this at once.
 */
export async function createIndexes(c: Collections): Promise<void> {
  for (const [name, indexes] of Object.entries(INDEXES) as [keyof Collections, IndexDescription[]][]) {
    await (c[name] as unknown as Collection).createIndexes(indexes);
  }
}
