// The EventQueue port. Producer side (the API) and consumer side (the worker) are separate
// objects so an API server never opens worker connections. Adapters: bullmq.ts, embedded.ts, sqs.ts;
// factory.ts chooses one from the configuration.
import type { QueuedEvent } from '../core/event.js';

export interface EventQueue {
  readonly kind: 'bullmq' | 'embedded' | 'sqs';
  /**
   * Resolves once the events are durably queued: they will be applied even if this process dies.
   * An adapter that retries stops trying at `deadline` (the caller answers 503 by then anyway).
   */
  enqueue(events: QueuedEvent[], opts?: EnqueueOptions): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface EnqueueOptions {
  /** Epoch milliseconds after which the caller no longer waits for this write. */
  deadline?: number;
}

export interface ClaimedJob {
  id: string;
  /** The payload as stored; the worker validates it. */
  data: unknown;
  /** Attempts that already failed. */
  attemptsMade: number;
  /**
   * The job's own retry budget, as set when it was queued (BullMQ: job.opts.attempts; embedded: the
   * job row). JOB_ATTEMPTS / JOB_BACKOFF_MS are read by the process that queues the job.
   */
  maxAttempts: number;
  /** The wait before the next attempt if this one fails (and attempts are left). */
  retryDelayMs: number;
}

/** Applies a group of jobs together; returns, for each job, null when it succeeded or its error. */
export type GroupHandler = (jobs: ClaimedJob[]) => Promise<(Error | null)[]>;

export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  completed: number;
  failed: number;
}

export interface EventConsumer {
  start(handler: GroupHandler): Promise<void>;
  /** Stops taking jobs and waits for the active ones; gives up after `timeoutMs`. */
  close(timeoutMs: number): Promise<void>;
  counts(): Promise<QueueCounts>;
  /** Moves every failed job back to waiting with fresh attempts; returns how many. */
  retryFailed(): Promise<number>;
}

export class QueueUnavailableError extends Error {
  constructor(cause?: unknown) {
    super(`Event queue unavailable${cause instanceof Error ? `: ${cause.message}` : ''}`, { cause });
  }
}

/**
 * Exponential backoff: the wait after failed attempt k is base × 2^(k-1) — 2, 4, 8, 16 s between the
 * spec's 5 attempts (its list's fifth delay, 32 s, would only come before a sixth attempt).
 */
export function backoffDelay(baseMs: number, attemptsMade: number): number {
  return baseMs * 2 ** Math.max(0, attemptsMade - 1);
}
