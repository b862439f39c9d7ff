// The environment, parsed once. This is the only module that reads process.env;
// every limit and tunable of the system is defined here and documented in the README.
import { z } from 'zod';
import net from 'node:net';
import path from 'node:path';
import { createHmac, randomBytes } from 'node:crypto';
import { CronExpressionParser } from 'cron-parser';

const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
    .optional()
    .transform((v) => (v === undefined || v === '' ? fallback : ['true', '1', 'yes'].includes(v)));

const optionalBool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
  .optional()
  .transform((v) => (v === undefined || v === '' ? undefined : ['true', '1', 'yes'].includes(v)));

const int = (fallback: number, min = 0) => z.coerce.number().int().min(min).default(fallback);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

/**
 * TRUST_PROXY, passed to Fastify's `trustProxy`: `true`/`false`, a hop count (trust that many
 * proxies in front of the server: the client is the entry that many from the right of
 * X-Forwarded-For), or a comma-separated list of proxy addresses / CIDR ranges.
 */
const trustProxy = z
  .string()
  .optional()
  .transform((v, ctx): boolean | number | string[] => {
    const t = v?.trim() ?? '';
    if (t === '' || ['false', 'no'].includes(t.toLowerCase())) return false;
    if (['true', 'yes'].includes(t.toLowerCase())) return true;
    if (/^\d+$/.test(t)) return Number(t);
    const list = t.split(',').map((x) => x.trim()).filter(Boolean);
    const bad = list.filter((x) => !isAddressOrCidr(x));
    if (bad.length > 0 || list.length === 0) {
      ctx.addIssue({ code: 'custom', message: `must be true, false, a hop count, or a comma-separated list of IP addresses / CIDR ranges (not an address: ${bad.join(', ') || 'empty'})` });
      return z.NEVER;
    }
    return list;
  });

function isAddressOrCidr(value: string): boolean {
  const [address, bits, ...rest] = value.split('/');
  const family = net.isIP(address ?? '');
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  return /^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

const cronSchedule = z
  .string()
  .default('5 0 * * *')
  .superRefine((v, ctx) => {
    try {
      CronExpressionParser.parse(v, { tz: 'UTC' });
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `must be a cron expression such as "5 0 * * *" (${(err as Error).message})` });
    }
  });

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: int(3000),
  HOST: z.string().default('0.0.0.0'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['text', 'json']).default('text'),

  // Store selection: MongoDB, else PostgreSQL, else the embedded SQLite file.
  MONGODB_URI: optionalString,
  DATABASE_URL: optionalString,
  DATABASE_SCHEMA: z.string().min(1).default('public'),
  DATA_DIR: z.string().default('./data'),

  // Queue selection: BullMQ when Redis is configured, else the embedded SQLite queue.
  REDIS_URL: optionalString,
  REDIS_HOST: optionalString,
  REDIS_PORT: int(6379, 1),
  REDIS_PASSWORD: optionalString,
  // Redis Cluster instead of a single Redis: host:port,host:port,... (any nodes; the rest are discovered).
  REDIS_CLUSTER_NODES: optionalString,
  REDIS_CLUSTER_WAIT_REPLICAS: int(1),
  QUEUE_NAME: z.string().min(1).default('analytics_events'),
  // Default `bull`, or `{bull}` on Redis Cluster (see clusterPrefix).
  QUEUE_PREFIX: optionalString,
  QUEUE_CONCURRENCY: int(10, 1),
  QUEUE_RATE_LIMIT_MAX: int(100),
  QUEUE_RATE_LIMIT_DURATION_MS: int(1000, 1),
  QUEUE_LOCK_MS: int(30_000, 1000),
  JOB_ATTEMPTS: int(5, 1),
  JOB_BACKOFF_MS: int(2000),
  JOB_KEEP_COMPLETED: int(1000),
  JOB_KEEP_COMPLETED_SECONDS: int(24 * 3600),
  JOB_KEEP_FAILED: int(5000),
  JOB_KEEP_FAILED_SECONDS: int(7 * 24 * 3600),

  // Ingestion.
  ENQUEUE_TIMEOUT_MS: int(2000, 1),
  INGEST_BATCH_MAX: int(500, 1),
  BODY_LIMIT_BYTES: int(32 * 1024, 1024),
  RATE_LIMIT_MAX: int(100),
  RATE_LIMIT_WINDOW_SECONDS: int(60, 1),
  READ_RATE_LIMIT_MAX: int(120),
  READ_RATE_LIMIT_WINDOW_SECONDS: int(60, 1),
  TRUST_PROXY: trustProxy,
  MAX_FUTURE_SKEW_SECONDS: int(300),
  EVENT_BATCH_MAX: int(100, 1),
  BATCH_BODY_LIMIT_BYTES: int(512 * 1024, 1024),
  CORS_ORIGIN: z.string().default('*'),

  // Access.
  ADMIN_TOKEN: optionalString,
  SESSION_SECRET: optionalString.refine((v) => v === undefined || v.length >= 32, { message: 'SESSION_SECRET must be at least 32 characters' }),
  SESSION_TTL_HOURS: z.coerce.number().positive().max(24 * 365).default(12),
  SESSION_COOKIE_SECURE: z.enum(['auto', 'true', 'false']).default('auto'),
  PUBLIC_URL: optionalString.refine((v) => v === undefined || /^https?:\/\/[^/]+/.test(v), { message: 'PUBLIC_URL must be an http(s) origin, e.g. https://analytics.example.com' }),

  // Tracker: a second path for /script.js, since ad-blockers block well-known names.
  TRACKER_SCRIPT_PATH: optionalString,

  // Worker.
  RUN_WORKER: optionalBool,
  WORKER_FLUSH_MAX_EVENTS: int(20_000, 1),
  WORKER_SHUTDOWN_TIMEOUT_MS: int(30_000, 1),
  SITE_CACHE_REFRESH_SECONDS: int(10, 1),
  SESSION_TIMEOUT_MINUTES: int(30, 1),

  // Metrics, heartbeats and readiness.
  METRICS_PUBLIC: bool(false),
  // Unset: workers serve no metrics; 0: a random free port (logged).
  WORKER_METRICS_PORT: z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), z.coerce.number().int().min(0).max(65535).optional()),
  WORKER_METRICS_HOST: z.string().min(1).default('0.0.0.0'),
  QUEUE_STATS_CACHE_SECONDS: z.coerce.number().min(0).max(3600).default(5),
  WORKER_HEARTBEAT_TIMEOUT_SECONDS: z.coerce.number().min(1).max(86_400).default(30),
  READY_MAX_QUEUE_AGE_SECONDS: z.coerce.number().min(1).default(300),
  HEALTH_CHECK_TIMEOUT_MS: int(2000, 100),

  // Maintenance.
  RETENTION_DAYS: int(7, 1),
  CRON_SCHEDULE: cronSchedule,

  // Amazon SQS as the queue (USE_SQS=true). Credentials come from the AWS SDK's own provider chain
  // (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, web identity, ECS/EC2 roles), which the
  // SDK reads itself; the region and the endpoint are passed from here.
  AWS_REGION: z.string().min(1).default('us-east-1'),
  USE_SQS: bool(false),
  SQS_QUEUE_URL: optionalString,
  SQS_DLQ_URL: optionalString,
  AWS_ENDPOINT_URL_SQS: optionalString,
  SQS_WAIT_TIME_SECONDS: z.coerce.number().int().min(0).max(20).default(20),

  // CloudWatch Logs: every process also ships its log lines (stdout logging stays).
  ENABLE_CLOUDWATCH: bool(false),
  CLOUDWATCH_LOG_GROUP: z.string().regex(/^[\w\-./#]{1,512}$/, 'letters, digits and _ - . / # only, at most 512').default('website-analytics'),
  CLOUDWATCH_CREATE_LOG_GROUP: bool(true),
  CLOUDWATCH_FLUSH_INTERVAL_MS: int(5000, 50),
  CLOUDWATCH_BUFFER_MAX_EVENTS: int(20_000, 1),
  CLOUDWATCH_BUFFER_MAX_BYTES: int(16 * 1024 * 1024, 256 * 1024),
  CLOUDWATCH_FLUSH_TIMEOUT_MS: int(5000, 0),
  CLOUDWATCH_REQUEST_TIMEOUT_MS: int(10_000, 100),
  // The SDK's standard endpoint overrides (the service-specific one first).
  AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: optionalString,
  AWS_ENDPOINT_URL: optionalString,
});

export type Env = z.infer<typeof schema>;

export interface Config {
  env: Env['NODE_ENV'];
  port: number;
  host: string;
  log: { level: Env['LOG_LEVEL']; format: Env['LOG_FORMAT'] };
  store:
    | { kind: 'mongodb'; uri: string }
    | { kind: 'postgres'; url: string; schema: string }
    | { kind: 'sqlite'; file: string };
  dataDir: string;
  redis: RedisSettings | undefined;
  /** Set when USE_SQS=true. */
  sqs: SqsConfig | undefined;
  queue: {
    kind: 'bullmq' | 'embedded' | 'sqs';
    name: string;
    prefix: string;
    concurrency: number;
    rateLimit: { max: number; durationMs: number };
    /** A job whose worker stops renewing its lock for this long is taken up again (stalled). */
    lockMs: number;
    attempts: number;
    backoffMs: number;
    keepCompleted: { count: number; ageSeconds: number };
    keepFailed: { count: number; ageSeconds: number };
  };
  ingest: {
    enqueueTimeoutMs: number;
    batchMax: number;
    bodyLimitBytes: number;
    rateLimit: { max: number; windowSeconds: number };
    /** Fastify's trustProxy: all proxies, a hop count, or the proxies' addresses / CIDR ranges. */
    trustProxy: boolean | number | string[];
    maxFutureSkewMs: number;
    corsOrigin: string;
    /** Most events in one POST /api/event/batch. */
    eventBatchMax: number;
    batchBodyLimitBytes: number;
  };
  /** Per client IP, for GET /api/stats: a budget of its own, separate from ingestion's. */
  readRateLimit: { max: number; windowSeconds: number };
  adminToken: string | undefined;
  tracker: {
    /** A second path, besides /script.js, that serves the tracker script. */
    scriptPath: string | undefined;
  };
  session: {
    /** Signs the dashboard's session cookies; `derived` from ADMIN_TOKEN, or `random` per process (dev only). */
    secret: Buffer;
    secretSource: 'SESSION_SECRET' | 'ADMIN_TOKEN' | 'random';
    ttlMs: number;
    /** `auto`: Secure when the request came over https (X-Forwarded-Proto with TRUST_PROXY). */
    secureCookie: 'auto' | boolean;
  };
  /** The origin people reach this server at (share links, CSRF origin check); default: the request's. */
  publicUrl: string | undefined;
  worker: {
    /** Whether `npm start` runs a worker next to the API (default: only in embedded mode). */
    inProcess: boolean;
    flushMaxEvents: number;
    shutdownTimeoutMs: number;
    /** The gap between two events of a visitor that starts a new visit. */
    sessionTimeoutMs: number;
  };
  metrics: MetricsConfig;
  heartbeat: HeartbeatConfig;
  ready: ReadyConfig;
  siteCacheRefreshMs: number;
  retentionDays: number;
  cronSchedule: string;
  cloudwatch: CloudWatchConfig;
}

export interface MetricsConfig {
  /** METRICS_PUBLIC: /metrics without the admin token. */
  public: boolean;
  /** WORKER_METRICS_PORT: a worker process serves GET /metrics here; undefined = no server, 0 = a free port. */
  workerPort: number | undefined;
  workerHost: string;
  /** Queue depth and worker counts are read at most this often, whatever the scrape rate. */
  queueCacheMs: number;
}

export interface HeartbeatConfig {
  /** A worker not seen for this long counts as gone (readiness, the API's warning, the Docker health check). */
  timeoutMs: number;
  /** How often a worker sends its heartbeat: a third of the timeout, at most 5 s. */
  intervalMs: number;
}

export interface ReadyConfig {
  /** GET /api/ready fails when the oldest waiting job is older than this. */
  maxQueueAgeMs: number;
  /** Each check of /api/health and /api/ready gives up after this long. */
  checkTimeoutMs: number;
}

export interface CloudWatchConfig {
  enabled: boolean;
  region: string;
  /** Endpoint override; the SDK's regional endpoint when undefined. */
  endpoint: string | undefined;
  logGroup: string;
  /** Create the log group when it is missing (needs logs:CreateLogGroup). */
  createLogGroup: boolean;
  flushIntervalMs: number;
  bufferMaxEvents: number;
  bufferMaxBytes: number;
  /** How long a process waits on shutdown for its buffered lines to be delivered. */
  flushTimeoutMs: number;
  requestTimeoutMs: number;
}

export interface RedisSettings {
  url?: string;
  host?: string;
  port: number;
  password?: string;
  /** Set with REDIS_CLUSTER_NODES: the startup nodes of a Redis Cluster (url/host/port are then unused). */
  cluster?: {
    nodes: { host: string; port: number }[];
    /** An event is acknowledged once this many replicas of its master have it (Redis WAIT; fewer when fewer are online). */
    waitReplicas: number;
  };
}

export interface SqsConfig {
  queueUrl: string;
  /** Where failed messages go (sent there, then deleted); else the queue's redrive policy moves them. */
  dlqUrl: string | undefined;
  region: string;
  /** AWS_ENDPOINT_URL_SQS: an emulator or a VPC endpoint; unset, the SDK uses the region's endpoint. */
  endpoint: string | undefined;
  /** Long-poll wait of ReceiveMessage (0–20 s). */
  waitTimeSeconds: number;
}

/** An invalid configuration. Its message is one line: `Invalid configuration: PORT must be …`. */
export class ConfigError extends Error {
  constructor(problems: string) {
    super(`Invalid configuration: ${problems}`);
  }
}

/** Which process reads the configuration: some checks only concern the API (ADMIN_TOKEN). */
export type Role = 'api' | 'worker' | 'cron' | 'tool';

/** Tokens that are examples, not secrets: refused in production. */
const PLACEHOLDER_TOKENS = new Set(['change-me', 'changeme', 'change_me', 'your-secret', 'secret', 'admin', 'password', 'token', 'admin-token', 'replace-me']);
export const MIN_ADMIN_TOKEN_LENGTH = 16;

/** One readable phrase per problem: `PORT must be a whole number, got "abc"`. */
function describeIssue(issue: z.core.$ZodIssue, source: NodeJS.ProcessEnv): string {
  const name = String(issue.path[0] ?? 'configuration');
  const raw = source[name];
  const got = raw === undefined ? '' : `, got ${JSON.stringify(raw)}`;
  let what: string;
  switch (issue.code) {
    case 'invalid_type':
      what = issue.expected === 'number' || issue.expected === 'int' ? 'must be a whole number' : `must be a ${issue.expected}`;
      break;
    case 'too_small':
      what = `must be at least ${String(issue.minimum)}`;
      break;
    case 'too_big':
      what = `must be at most ${String(issue.maximum)}`;
      break;
    case 'invalid_value':
      what = `must be one of ${issue.values.map((v) => String(v)).filter(Boolean).join(', ')}`;
      break;
    default:
      what = issue.message.startsWith('must') ? issue.message : `is invalid (${issue.message})`;
  }
  return `${name} ${what}${got}`;
}

export function loadConfig(source: NodeJS.ProcessEnv = process.env, role: Role = 'api'): Config {
  const parsed = schema.safeParse(source);
  if (!parsed.success) {
    // One problem per variable, all on one line.
    const seen = new Set<string>();
    const problems = parsed.error.issues.filter((i) => {
      const k = String(i.path[0]);
      return seen.has(k) ? false : (seen.add(k), true);
    });
    throw new ConfigError(problems.map((i) => describeIssue(i, source)).join('; '));
  }
  const e = parsed.data;
  const cloudwatchEndpoint = e.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS ?? e.AWS_ENDPOINT_URL;
  if (cloudwatchEndpoint !== undefined && !/^https?:\/\/[^\s/]+/.test(cloudwatchEndpoint)) {
    throw new ConfigError(`${e.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS ? 'AWS_ENDPOINT_URL_CLOUDWATCH_LOGS' : 'AWS_ENDPOINT_URL'} must be an http:// or https:// URL`);
  }
  if (role === 'api' && e.NODE_ENV === 'production') checkProductionAdminToken(e.ADMIN_TOKEN);
  if (role === 'worker' && e.NODE_ENV === 'production' && e.WORKER_METRICS_PORT !== undefined && !e.ADMIN_TOKEN && !e.METRICS_PUBLIC) {
    throw new ConfigError(
      'WORKER_METRICS_PORT is set with NODE_ENV=production but neither ADMIN_TOKEN nor METRICS_PUBLIC=true: give the worker the API\'s ADMIN_TOKEN (scrapes send it as a Bearer token), or set METRICS_PUBLIC=true to serve the metrics to anyone who reaches the port',
    );
  }

  const dataDir = path.resolve(e.DATA_DIR);
  const store: Config['store'] = e.MONGODB_URI
    ? { kind: 'mongodb', uri: e.MONGODB_URI }
    : e.DATABASE_URL
      ? { kind: 'postgres', url: e.DATABASE_URL, schema: e.DATABASE_SCHEMA }
      : { kind: 'sqlite', file: path.join(dataDir, 'analytics.db') };
  if (store.kind === 'postgres' && !/^postgres(ql)?:\/\//.test(store.url)) {
    throw new ConfigError(`DATABASE_URL must be a postgres:// or postgresql:// URL, got ${JSON.stringify(redactUrl(store.url))}`);
  }
  if (store.kind === 'mongodb' && !/^mongodb(\+srv)?:\/\//.test(store.uri)) {
    throw new ConfigError(`MONGODB_URI must be a mongodb:// or mongodb+srv:// URL, got ${JSON.stringify(redactUrl(store.uri))}`);
  }
  if (e.REDIS_URL && !/^rediss?:\/\//.test(e.REDIS_URL)) {
    throw new ConfigError(`REDIS_URL must be a redis:// or rediss:// URL, got ${JSON.stringify(redactUrl(e.REDIS_URL))}`);
  }
  const clusterNodes = e.REDIS_CLUSTER_NODES === undefined ? undefined : parseClusterNodes(e.REDIS_CLUSTER_NODES);
  if (clusterNodes && (e.REDIS_URL || e.REDIS_HOST)) {
    throw new ConfigError('Set either REDIS_CLUSTER_NODES (a Redis Cluster) or REDIS_URL / REDIS_HOST (a single Redis), not both');
  }
  const redis: RedisSettings | undefined = clusterNodes
    ? { port: e.REDIS_PORT, password: e.REDIS_PASSWORD, cluster: { nodes: clusterNodes, waitReplicas: e.REDIS_CLUSTER_WAIT_REPLICAS } }
    : e.REDIS_URL || e.REDIS_HOST
      ? { url: e.REDIS_URL, host: e.REDIS_HOST, port: e.REDIS_PORT, password: e.REDIS_PASSWORD }
      : undefined;
  const prefix = clusterNodes ? clusterPrefix(e.QUEUE_PREFIX) : (e.QUEUE_PREFIX ?? 'bull');
  let sqs: SqsConfig | undefined;
  if (e.USE_SQS) {
    if (!e.SQS_QUEUE_URL) throw new ConfigError('USE_SQS=true needs SQS_QUEUE_URL (the queue URL, https://sqs.<region>.amazonaws.com/<account>/<name>)');
    for (const [name, value] of [['SQS_QUEUE_URL', e.SQS_QUEUE_URL], ['SQS_DLQ_URL', e.SQS_DLQ_URL], ['AWS_ENDPOINT_URL_SQS', e.AWS_ENDPOINT_URL_SQS]] as const) {
      if (value !== undefined && !/^https?:\/\/[^/\s]+/.test(value)) throw new ConfigError(`${name} must be an http:// or https:// URL`);
    }
    if (e.SQS_DLQ_URL === e.SQS_QUEUE_URL) throw new ConfigError('SQS_DLQ_URL must be another queue than SQS_QUEUE_URL');
    sqs = { queueUrl: e.SQS_QUEUE_URL, dlqUrl: e.SQS_DLQ_URL, region: e.AWS_REGION, endpoint: e.AWS_ENDPOINT_URL_SQS, waitTimeSeconds: e.SQS_WAIT_TIME_SECONDS };
  }
  // SQS when asked for; else BullMQ when Redis is configured (with SQS, Redis still holds the rate limits).
  const queueKind = sqs ? 'sqs' : redis ? 'bullmq' : 'embedded';

  return {
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    log: { level: e.LOG_LEVEL, format: e.LOG_FORMAT },
    store,
    dataDir,
    redis,
    sqs,
    queue: {
      kind: queueKind,
      name: e.QUEUE_NAME,
      prefix,
      concurrency: e.QUEUE_CONCURRENCY,
      rateLimit: { max: e.QUEUE_RATE_LIMIT_MAX, durationMs: e.QUEUE_RATE_LIMIT_DURATION_MS },
      lockMs: e.QUEUE_LOCK_MS,
      attempts: e.JOB_ATTEMPTS,
      backoffMs: e.JOB_BACKOFF_MS,
      keepCompleted: { count: e.JOB_KEEP_COMPLETED, ageSeconds: e.JOB_KEEP_COMPLETED_SECONDS },
      keepFailed: { count: e.JOB_KEEP_FAILED, ageSeconds: e.JOB_KEEP_FAILED_SECONDS },
    },
    ingest: {
      enqueueTimeoutMs: e.ENQUEUE_TIMEOUT_MS,
      batchMax: e.INGEST_BATCH_MAX,
      bodyLimitBytes: e.BODY_LIMIT_BYTES,
      rateLimit: { max: e.RATE_LIMIT_MAX, windowSeconds: e.RATE_LIMIT_WINDOW_SECONDS },
      trustProxy: e.TRUST_PROXY,
      maxFutureSkewMs: e.MAX_FUTURE_SKEW_SECONDS * 1000,
      corsOrigin: e.CORS_ORIGIN,
      eventBatchMax: e.EVENT_BATCH_MAX,
      batchBodyLimitBytes: Math.max(e.BATCH_BODY_LIMIT_BYTES, e.BODY_LIMIT_BYTES),
    },
    readRateLimit: { max: e.READ_RATE_LIMIT_MAX, windowSeconds: e.READ_RATE_LIMIT_WINDOW_SECONDS },
    adminToken: e.ADMIN_TOKEN,
    tracker: { scriptPath: trackerScriptPath(e.TRACKER_SCRIPT_PATH) },
    session: sessionConfig(e),
    publicUrl: e.PUBLIC_URL ? new URL(e.PUBLIC_URL).origin : undefined,
    worker: {
      inProcess: e.RUN_WORKER ?? queueKind === 'embedded',
      flushMaxEvents: e.WORKER_FLUSH_MAX_EVENTS,
      shutdownTimeoutMs: e.WORKER_SHUTDOWN_TIMEOUT_MS,
      sessionTimeoutMs: e.SESSION_TIMEOUT_MINUTES * 60_000,
    },
    metrics: {
      public: e.METRICS_PUBLIC,
      workerPort: e.WORKER_METRICS_PORT,
      workerHost: e.WORKER_METRICS_HOST,
      queueCacheMs: Math.round(e.QUEUE_STATS_CACHE_SECONDS * 1000),
    },
    heartbeat: heartbeatConfig(e.WORKER_HEARTBEAT_TIMEOUT_SECONDS),
    ready: { maxQueueAgeMs: Math.round(e.READY_MAX_QUEUE_AGE_SECONDS * 1000), checkTimeoutMs: e.HEALTH_CHECK_TIMEOUT_MS },
    siteCacheRefreshMs: e.SITE_CACHE_REFRESH_SECONDS * 1000,
    retentionDays: e.RETENTION_DAYS,
    cronSchedule: e.CRON_SCHEDULE,
    cloudwatch: {
      enabled: e.ENABLE_CLOUDWATCH,
      region: e.AWS_REGION,
      endpoint: cloudwatchEndpoint,
      logGroup: e.CLOUDWATCH_LOG_GROUP,
      createLogGroup: e.CLOUDWATCH_CREATE_LOG_GROUP,
      flushIntervalMs: e.CLOUDWATCH_FLUSH_INTERVAL_MS,
      bufferMaxEvents: e.CLOUDWATCH_BUFFER_MAX_EVENTS,
      bufferMaxBytes: e.CLOUDWATCH_BUFFER_MAX_BYTES,
      flushTimeoutMs: e.CLOUDWATCH_FLUSH_TIMEOUT_MS,
      requestTimeoutMs: e.CLOUDWATCH_REQUEST_TIMEOUT_MS,
    },
  };
}

/** Heartbeats three times per timeout (at most every 5 s), so one late beat never makes a worker look gone. */
export function heartbeatConfig(timeoutSeconds: number): HeartbeatConfig {
  const timeoutMs = Math.round(timeoutSeconds * 1000);
  return { timeoutMs, intervalMs: Math.max(100, Math.min(5000, Math.floor(timeoutMs / 3))) };
}

/** REDIS_CLUSTER_NODES: `host:port` entries separated by commas (an IPv6 host in brackets: `[::1]:7000`). */
function parseClusterNodes(value: string): { host: string; port: number }[] {
  const entries = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const nodes = entries.map((entry) => {
    const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/.exec(entry);
    const port = Number(m?.[2]);
    if (!m || port < 1 || port > 65535) {
      throw new ConfigError(`REDIS_CLUSTER_NODES must be a comma-separated list of host:port (e.g. redis-1:6379,redis-2:6379); "${entry}" is not`);
    }
    return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port };
  });
  if (nodes.length === 0) throw new ConfigError('REDIS_CLUSTER_NODES is empty: give at least one host:port of the cluster');
  return nodes;
}

/**
 * The hash tag of a Redis key, as Redis Cluster computes its slot: the text between the first `{`
 * and the first `}` after it, when that text is not empty; otherwise the whole key counts.
 */
export function hashTag(key: string): string | undefined {
  const open = key.indexOf('{');
  if (open < 0) return undefined;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : undefined;
}

/**
 * On Redis Cluster every key of a BullMQ queue must live in one hash slot (its scripts touch several
 * keys at once), so the prefix must carry a hash tag. Every key and channel name this project uses
 * starts with the prefix, so they all share its tag.
 */
function clusterPrefix(value: string | undefined): string {
  if (value === undefined) return '{bull}';
  if (hashTag(value) === undefined) {
    throw new ConfigError(
      `QUEUE_PREFIX "${value}" has no hash tag. On Redis Cluster (REDIS_CLUSTER_NODES) all keys of a queue must hash to one slot, so the prefix needs braces, e.g. QUEUE_PREFIX={${value.replace(/[{}]/g, '') || 'bull'}}, or leave it unset for {bull}`,
    );
  }
  return value;
}

/** A URL path of plain segments ending in `.js`, outside `/api/` (route parameters and wildcards refused). */
function trackerScriptPath(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!/^(\/[A-Za-z0-9._~-]+)+$/.test(value) || !value.endsWith('.js') || /\/\.\.?(\/|$)/.test(value)) {
    throw new ConfigError(`TRACKER_SCRIPT_PATH must be a path such as /js/app.js: it starts with /, ends with .js, and has only letters, digits and . _ ~ - between slashes (got "${value}")`);
  }
  if (/^\/api\//i.test(value)) throw new ConfigError(`TRACKER_SCRIPT_PATH must not be under /api/ (got "${value}")`);
  return value;
}

function sessionConfig(e: Env): Config['session'] {
  const [secret, secretSource]: [Buffer, Config['session']['secretSource']] = e.SESSION_SECRET
    ? [Buffer.from(e.SESSION_SECRET), 'SESSION_SECRET']
    : e.ADMIN_TOKEN
      ? // A key of its own, so a session cookie never reveals anything about the token itself.
        [createHmac('sha256', 'website-analytics session key').update(e.ADMIN_TOKEN).digest(), 'ADMIN_TOKEN']
      : [randomBytes(32), 'random'];
  return {
    secret,
    secretSource,
    ttlMs: Math.round(e.SESSION_TTL_HOURS * 3600_000),
    secureCookie: e.SESSION_COOKIE_SECURE === 'auto' ? 'auto' : e.SESSION_COOKIE_SECURE === 'true',
  };
}

/**
 * In production the API refuses to start with no ADMIN_TOKEN (site creation would be open to
 * anyone), a short one, or a placeholder copied from an example.
 */
function checkProductionAdminToken(token: string | undefined): void {
  const fix = 'set ADMIN_TOKEN to a long random secret, e.g. ADMIN_TOKEN=$(openssl rand -hex 32)';
  if (token === undefined) throw new ConfigError(`ADMIN_TOKEN must be set when NODE_ENV=production (site creation would be open to anyone): ${fix}`);
  if (PLACEHOLDER_TOKENS.has(token.toLowerCase())) throw new ConfigError(`ADMIN_TOKEN is the placeholder ${JSON.stringify(token)}, not a secret: ${fix}`);
  if (token.length < MIN_ADMIN_TOKEN_LENGTH) {
    throw new ConfigError(`ADMIN_TOKEN must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters when NODE_ENV=production, got ${token.length}: ${fix}`);
  }
}

/** A URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
  }
}

/** Loads `.env` from the working directory when present (the spec's `cp .env.example .env`). */
export function loadDotEnv(file = '.env'): void {
  try {
    process.loadEnvFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
