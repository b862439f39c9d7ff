// Readiness (GET /api/ready) and the API's worker watch. Ready means events sent now will be counted
// soon: the queue and the store answer, a worker was seen within WORKER_HEARTBEAT_TIMEOUT_SECONDS, and
// the oldest waiting job is younger than READY_MAX_QUEUE_AGE_SECONDS. Every check has its own bounded
// timeout (HEALTH_CHECK_TIMEOUT_MS) and they run together, so the answer never takes longer than that.
import type { HeartbeatConfig, ReadyConfig } from '../config.js';
import type { Logger } from '../logger.js';
import type { Heartbeats, WorkerHeartbeat } from '../queue/heartbeat.js';
import type { QueueSnapshot } from '../queue/inspect.js';
import { withTimeout } from '../metrics/cache.js';

export interface Check {
  ok: boolean;
  /** Why it failed: one sentence. */
  message?: string;
  [detail: string]: unknown;
}

export interface ReadinessReport {
  ready: boolean;
  checks: { queue: Check; store: Check; workers: Check; queue_age: Check };
}

export interface ReadinessDeps {
  queue: { kind: string; ping(): Promise<void> };
  store: { kind: string; ping(): Promise<void> };
  heartbeats: Heartbeats;
  /** Cached (QUEUE_STATS_CACHE_SECONDS). */
  queueSnapshot: () => Promise<QueueSnapshot>;
  heartbeat: HeartbeatConfig;
  ready: ReadyConfig;
  /** How to start a worker, for the messages. */
  workerHint: string;
  now?: () => number;
}

/** How far back heartbeats are read, to say when the last worker was seen. */
const HISTORY_TIMEOUTS = 20;

export class Readiness {
  private now: () => number;

  constructor(private d: ReadinessDeps) {
    this.now = d.now ?? Date.now;
  }

  async check(): Promise<ReadinessReport> {
    const t = this.d.ready.checkTimeoutMs;
    const [queue, store, workers, age] = await Promise.all([
      this.ping(this.d.queue, 'queue', t),
      this.ping(this.d.store, 'store', t),
      this.workers(t),
      this.queueAge(t),
    ]);
    return { ready: queue.ok && store.ok && workers.ok && age.ok, checks: { queue, store, workers, queue_age: age } };
  }

  private async ping(target: { kind: string; ping(): Promise<void> }, what: 'queue' | 'store', timeoutMs: number): Promise<Check> {
    try {
      await withTimeout(target.ping(), timeoutMs, what);
      return { ok: true, kind: target.kind };
    } catch (err) {
      return { ok: false, kind: target.kind, message: `The ${what} (${target.kind}) is not reachable: ${(err as Error).message}.` };
    }
  }

  /** Workers seen recently, and the last one seen at all (within the history), for the message. */
  async workersSeen(timeoutMs: number): Promise<{ alive: WorkerHeartbeat[]; last: WorkerHeartbeat | undefined }> {
    const now = this.now();
    const recent = await withTimeout(this.d.heartbeats.seenSince(now - this.d.heartbeat.timeoutMs * HISTORY_TIMEOUTS), timeoutMs, 'heartbeats');
    return { alive: recent.filter((h) => h.seen_at >= now - this.d.heartbeat.timeoutMs), last: recent[0] };
  }

  private async workers(timeoutMs: number): Promise<Check> {
    const timeout = this.d.heartbeat.timeoutMs / 1000;
    let seen;
    try {
      seen = await this.workersSeen(timeoutMs);
    } catch (err) {
      return { ok: false, timeout_seconds: timeout, message: `Cannot read the workers' heartbeats: ${(err as Error).message}.` };
    }
    const now = this.now();
    const last = seen.last ? { last_seen_seconds_ago: round((now - seen.last.seen_at) / 1000), last_worker: `${seen.last.host}/${seen.last.pid}` } : {};
    if (seen.alive.length > 0) return { ok: true, seen: seen.alive.length, timeout_seconds: timeout, ...last };
    return {
      ok: false,
      seen: 0,
      timeout_seconds: timeout,
      ...last,
      message: noWorkerMessage(timeout, seen.last, now, this.d.workerHint),
    };
  }

  private async queueAge(timeoutMs: number): Promise<Check> {
    const max = this.d.ready.maxQueueAgeMs / 1000;
    let s: QueueSnapshot;
    try {
      s = await withTimeout(this.d.queueSnapshot(), timeoutMs, 'queue counts');
    } catch (err) {
      return { ok: false, max_seconds: max, message: `Cannot read the age of the oldest waiting job: ${(err as Error).message}.` };
    }
    if (s.oldestWaitingSince === undefined) {
      return { ok: true, oldest_waiting_seconds: null, max_seconds: max, note: 'SQS does not report the age of its oldest message through its API (see CloudWatch ApproximateAgeOfOldestMessage)' };
    }
    const age = s.oldestWaitingSince === null ? 0 : round(Math.max(0, this.now() - s.oldestWaitingSince) / 1000);
    const counts = { waiting: s.jobs.waiting, delayed: s.jobs.delayed };
    if (age <= max) return { ok: true, oldest_waiting_seconds: age, max_seconds: max, ...counts };
    return {
      ok: false,
      oldest_waiting_seconds: age,
      max_seconds: max,
      ...counts,
      message: `The oldest waiting job was queued ${age} s ago, more than READY_MAX_QUEUE_AGE_SECONDS (${max} s): the workers are not keeping up (or none is running).`,
    };
  }
}

function noWorkerMessage(timeoutSeconds: number, last: WorkerHeartbeat | undefined, now: number, hint: string): string {
  const lastSeen = last ? ` The last one (${last.host}/${last.pid}) was seen ${round((now - last.seen_at) / 1000)} s ago.` : '';
  return `No worker seen in the last ${timeoutSeconds} s (WORKER_HEARTBEAT_TIMEOUT_SECONDS): events are queued but not counted until one runs.${lastSeen} ${hint}`;
}

const round = (x: number) => Math.round(x * 10) / 10;

/**
 * Logs, once per change, when no worker has been seen for WORKER_HEARTBEAT_TIMEOUT_SECONDS (a
 * warning) and when one is seen again (info). The first look that can warn comes exactly one
 * timeout after the API started, so an API with no worker at all says so within that time.
 */
export class WorkerWatch {
  private state: 'unknown' | 'seen' | 'missing' = 'unknown';
  private timers: NodeJS.Timeout[] = [];
  private checking = false;
  private startedAt = 0;

  constructor(
    private readiness: Readiness,
    private cfg: HeartbeatConfig & { checkTimeoutMs: number; hint: string },
    private logger: Logger,
    private now: () => number = Date.now,
  ) {}

  /** Called once the API listens: the timeout counts from then. */
  start(): void {
    this.startedAt = this.now();
    const interval = setInterval(() => void this.check(), this.cfg.intervalMs);
    const first = setTimeout(() => void this.check(), this.cfg.timeoutMs);
    interval.unref();
    first.unref();
    this.timers.push(interval, first);
  }

  async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const seen = await this.readiness.workersSeen(this.cfg.checkTimeoutMs);
      const now = this.now();
      if (seen.alive.length > 0) {
        if (this.state === 'missing') {
          const w = seen.alive[0]!;
          this.logger.info(`A worker is running: ${w.host}/${w.pid} (${seen.alive.length} seen in the last ${this.cfg.timeoutMs / 1000} s)`);
        }
        this.state = 'seen';
      } else if (now - this.startedAt >= this.cfg.timeoutMs && this.state !== 'missing') {
        this.state = 'missing';
        this.logger.warn(noWorkerMessage(this.cfg.timeoutMs / 1000, seen.last, now, this.cfg.hint));
      }
    } catch {
      // The queue itself is unreachable: its own errors (503s, /api/ready) say so.
    } finally {
      this.checking = false;
    }
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
  }
}
