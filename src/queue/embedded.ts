// The embedded queue: a durable job table in the local SQLite file, with BullMQ's semantics
// (attempts, exponential backoff, leases with stalled-job recovery, bounded history).
// Several processes may produce and consume on the same file; SQLite serialises the writes.
import { BroadcastChannel } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { uuidv7 } from '../core/id.js';
import type { Config } from '../config.js';
import { jobPayload, type QueuedEvent } from '../core/event.js';
import { openSqliteFile } from '../store/sql/sqlite.js';
import {
  QueueUnavailableError,
  backoffDelay,
  type ClaimedJob,
  type EventConsumer,
  type EventQueue,
  type GroupHandler,
  type QueueCounts,
} from './port.js';

const MAX_STALLED = 1;

function openQueueDb(file: string): Database.Database {
  const db = openSqliteFile(file);
  db.exec(`
    CREATE TABLE IF NOT EXISTS queue_jobs (
      job_id INTEGER PRIMARY KEY,
      batch_id TEXT NOT NULL UNIQUE,
      payload TEXT NOT NULL,
      event_count INTEGER NOT NULL,
      state TEXT NOT NULL,
      attempts_made INTEGER NOT NULL DEFAULT 0,
      stalled_count INTEGER NOT NULL DEFAULT 0,
      run_at_ms INTEGER NOT NULL,
      locked_until_ms INTEGER,
      created_at_ms INTEGER NOT NULL,
      finished_at_ms INTEGER,
      failed_reason TEXT
    );
    CREATE INDEX IF NOT EXISTS queue_jobs_ready ON queue_jobs (state, run_at_ms, job_id);
    CREATE INDEX IF NOT EXISTS queue_jobs_finished ON queue_jobs (state, finished_at_ms);
    CREATE TABLE IF NOT EXISTS queue_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  `);
  // Each job carries its own retry budget (JOB_ATTEMPTS / JOB_BACKOFF_MS of the process that queued
  // it), as BullMQ jobs do. Files from before hold jobs without it: NULL = the consumer's settings.
  const columns = new Set((db.prepare(`PRAGMA table_info(queue_jobs)`).all() as { name: string }[]).map((c) => c.name));
  try {
    if (!columns.has('max_attempts')) db.exec(`ALTER TABLE queue_jobs ADD COLUMN max_attempts INTEGER`);
    if (!columns.has('backoff_ms')) db.exec(`ALTER TABLE queue_jobs ADD COLUMN backoff_ms INTEGER`);
  } catch (err) {
    // Another process added it first.
    if (!/duplicate column/i.test((err as Error).message)) throw err;
  }
  return db;
}

/** The retry budget a producer gives its jobs. */
export interface JobRetry {
  attempts: number;
  backoffMs: number;
}

/** Same-process producers wake the consumer at once; other processes are seen by polling. */
const channelName = (file: string) => `website-analytics:queue:${file}`;

export class EmbeddedEventQueue implements EventQueue {
  readonly kind = 'embedded' as const;
  private db: Database.Database;
  private insert: Database.Statement;
  private channel: BroadcastChannel;

  /**
   * `busyTimeoutMs` bounds how long a request may wait for the worker's write lock; `retry` is the
   * budget written into each job (without it, the consumer's settings apply).
   */
  constructor(file: string, busyTimeoutMs?: number, private retry?: JobRetry) {
    this.db = openQueueDb(file);
    if (busyTimeoutMs !== undefined) this.db.pragma(`busy_timeout = ${Math.floor(busyTimeoutMs)}`);
    this.insert = this.db.prepare(
      `INSERT INTO queue_jobs (batch_id, payload, event_count, state, run_at_ms, created_at_ms, max_attempts, backoff_ms)
       VALUES (?, ?, ?, 'waiting', ?, ?, ?, ?)`,
    );
    this.channel = new BroadcastChannel(channelName(file));
    this.channel.unref();
  }

  async enqueue(events: QueuedEvent[]): Promise<void> {
    const now = Date.now();
    try {
      this.insert.run(uuidv7(), JSON.stringify(jobPayload(events)), events.length, now, now, this.retry?.attempts ?? null, this.retry?.backoffMs ?? null);
    } catch (err) {
      throw new QueueUnavailableError(err);
    }
    this.channel.postMessage('wake');
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    this.channel.close();
    this.db.close();
  }
}

interface JobRow {
  job_id: number;
  payload: string;
  event_count: number;
  attempts_made: number;
  max_attempts: number | null;
  backoff_ms: number | null;
}

export interface EmbeddedConsumerOptions {
  flushMaxEvents: number;
  lockMs: number;
  pollMs?: number;
}

export class EmbeddedEventConsumer implements EventConsumer {
  private db: Database.Database;
  private channel: BroadcastChannel;
  private closing = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private held = new Set<number>();
  private heartbeat: NodeJS.Timeout | undefined;
  private lastPrune = 0;
  onError: ((err: Error) => void) | undefined;

  constructor(
    file: string,
    private q: Config['queue'],
    private opts: EmbeddedConsumerOptions,
  ) {
    this.db = openQueueDb(file);
    this.channel = new BroadcastChannel(channelName(file));
    this.channel.onmessage = () => this.wake?.();
    this.channel.unref();
  }

  async start(handler: GroupHandler): Promise<void> {
    // Keep the leases of held jobs alive while a long transaction runs.
    this.heartbeat = setInterval(() => this.renewLeases(), Math.max(100, Math.floor(this.opts.lockMs / 3)));
    this.heartbeat.unref();
    this.loop = this.run(handler);
  }

  private async run(handler: GroupHandler): Promise<void> {
    while (!this.closing) {
      try {
        const rows = this.claim();
        if (rows.length === 0) {
          await this.idle();
          continue;
        }
        const jobs: ClaimedJob[] = rows.map((r) => ({
          id: String(r.job_id),
          data: safeParse(r.payload),
          attemptsMade: r.attempts_made,
          maxAttempts: this.attemptsOf(r),
          retryDelayMs: backoffDelay(this.backoffOf(r), r.attempts_made + 1),
        }));
        let results: (Error | null)[];
        try {
          results = await handler(jobs);
        } catch (err) {
          results = jobs.map(() => (err instanceof Error ? err : new Error(String(err))));
        }
        if (!this.db.open) return; // closed past its deadline: leases expire and the jobs are retried
        this.finish(rows, results);
        this.prune();
      } catch (err) {
        // The queue file is busy or unwritable: what was claimed is recovered when its lease expires.
        this.onError?.(err as Error);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private idle(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.opts.pollMs ?? 200);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }

  /** Takes ready jobs (up to flushMaxEvents events), after returning expired leases to the queue. */
  private claim(): JobRow[] {
    const now = Date.now();
    return this.db.transaction(() => {
      this.db
        .prepare(
          `UPDATE queue_jobs SET state = CASE WHEN stalled_count + 1 > ${MAX_STALLED} THEN 'failed' ELSE 'waiting' END,
             failed_reason = CASE WHEN stalled_count + 1 > ${MAX_STALLED} THEN 'job stalled more than allowable limit' END,
             finished_at_ms = CASE WHEN stalled_count + 1 > ${MAX_STALLED} THEN ? END,
             stalled_count = stalled_count + 1, locked_until_ms = NULL
           WHERE state = 'active' AND locked_until_ms < ?`,
        )
        .run(now, now);
      const candidates = this.db
        .prepare(
          `SELECT job_id, payload, event_count, attempts_made, max_attempts, backoff_ms FROM queue_jobs
           WHERE state = 'waiting' AND run_at_ms <= ? ORDER BY run_at_ms, job_id LIMIT 1000`,
        )
        .all(now) as JobRow[];
      const rows: JobRow[] = [];
      let events = 0;
      for (const r of candidates) {
        if (rows.length > 0 && events + r.event_count > this.opts.flushMaxEvents) break;
        rows.push(r);
        events += r.event_count;
      }
      const lock = this.db.prepare(`UPDATE queue_jobs SET state = 'active', locked_until_ms = ? WHERE job_id = ?`);
      for (const r of rows) {
        lock.run(now + this.opts.lockMs, r.job_id);
        this.held.add(r.job_id);
      }
      return rows;
    }).immediate();
  }

  private finish(rows: JobRow[], results: (Error | null)[]): void {
    const now = Date.now();
    const complete = this.db.prepare(
      `UPDATE queue_jobs SET state = 'completed', finished_at_ms = ?, locked_until_ms = NULL WHERE job_id = ? AND state = 'active'`,
    );
    const retry = this.db.prepare(
      `UPDATE queue_jobs SET state = 'waiting', attempts_made = ?, run_at_ms = ?, failed_reason = ?, locked_until_ms = NULL
       WHERE job_id = ? AND state = 'active'`,
    );
    const fail = this.db.prepare(
      `UPDATE queue_jobs SET state = 'failed', attempts_made = ?, finished_at_ms = ?, failed_reason = ?, locked_until_ms = NULL
       WHERE job_id = ? AND state = 'active'`,
    );
    this.db.transaction(() => {
      rows.forEach((r, i) => {
        const err = results[i];
        this.held.delete(r.job_id);
        if (!err) complete.run(now, r.job_id);
        else if (r.attempts_made + 1 >= this.attemptsOf(r)) fail.run(r.attempts_made + 1, now, err.message, r.job_id);
        else retry.run(r.attempts_made + 1, now + backoffDelay(this.backoffOf(r), r.attempts_made + 1), err.message, r.job_id);
      });
    }).immediate();
  }

  /** The job's own budget; jobs queued before it was stored use this consumer's settings. */
  private attemptsOf(r: JobRow): number {
    return r.max_attempts ?? this.q.attempts;
  }

  private backoffOf(r: JobRow): number {
    return r.backoff_ms ?? this.q.backoffMs;
  }

  private renewLeases(): void {
    if (this.held.size === 0) return;
    const renew = this.db.prepare(`UPDATE queue_jobs SET locked_until_ms = ? WHERE job_id = ? AND state = 'active'`);
    const until = Date.now() + this.opts.lockMs;
    try {
      this.db.transaction(() => this.held.forEach((id) => renew.run(until, id))).immediate();
    } catch {
      // Busy: the next beat renews; the lease is three beats long.
    }
  }

  /** Keeps the history BullMQ would keep: the last N completed/failed jobs within their age. */
  private prune(): void {
    const now = Date.now();
    if (now - this.lastPrune < 10_000) return;
    this.lastPrune = now;
    const { keepCompleted, keepFailed } = this.q;
    const del = this.db.prepare(
      `DELETE FROM queue_jobs WHERE state = ? AND (finished_at_ms < ? OR job_id NOT IN
         (SELECT job_id FROM queue_jobs WHERE state = ? ORDER BY finished_at_ms DESC LIMIT ?))`,
    );
    del.run('completed', now - keepCompleted.ageSeconds * 1000, 'completed', keepCompleted.count);
    del.run('failed', now - keepFailed.ageSeconds * 1000, 'failed', keepFailed.count);
  }

  async counts(): Promise<QueueCounts> {
    const now = Date.now();
    const rows = this.db
      .prepare(
        `SELECT CASE WHEN state = 'waiting' AND run_at_ms > ? THEN 'delayed' ELSE state END AS s, COUNT(*) AS n
         FROM queue_jobs GROUP BY s`,
      )
      .all(now) as { s: string; n: number }[];
    const get = (s: string) => rows.find((r) => r.s === s)?.n ?? 0;
    return { waiting: get('waiting'), active: get('active'), delayed: get('delayed'), completed: get('completed'), failed: get('failed') };
  }

  async retryFailed(): Promise<number> {
    const res = this.db
      .prepare(
        `UPDATE queue_jobs SET state = 'waiting', attempts_made = 0, stalled_count = 0, run_at_ms = ?, failed_reason = NULL, finished_at_ms = NULL
         WHERE state = 'failed'`,
      )
      .run(Date.now());
    return res.changes;
  }

  async close(timeoutMs: number): Promise<void> {
    this.closing = true;
    this.wake?.();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.loop, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    clearInterval(this.heartbeat);
    this.channel.close();
    this.db.close();
  }
}

function safeParse(payload: string): unknown {
  try {
    return JSON.parse(payload);
  } catch {
    return payload; // the worker rejects it as an invalid payload
  }
}
