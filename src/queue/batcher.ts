// Group commit for ingestion: requests that arrive while a write to the queue is in flight are
// queued together in the next job. A request is answered only when its own job is durably queued,
// so batching never turns an unqueued event into a 2xx; under load it turns N queue writes into one.
// Each request is answered within `timeoutMs` of its arrival, however long it waited for a write slot.
import type { QueuedEvent } from '../core/event.js';
import { QueueUnavailableError, type EventQueue } from './port.js';

interface Waiter {
  /** The events of one request: always in the same job. */
  events: QueuedEvent[];
  resolve: () => void;
  reject: (err: Error) => void;
  /** Epoch ms by which this request gets its answer. */
  deadline: number;
}

export interface BatcherOptions {
  /** Most events in one job. */
  maxBatch: number;
  /** A request not durably queued this long after it arrived fails (503) instead of hanging. */
  timeoutMs: number;
  /** Writes allowed in flight at once. */
  maxInFlight?: number;
}

export class EnqueueBatcher {
  private pending: Waiter[] = [];
  private pendingEvents = 0;
  private inFlight = 0;
  private scheduled = false;
  private expiry: NodeJS.Timeout | undefined;
  private expiryAt: number | undefined;
  private readonly maxInFlight: number;

  constructor(
    private queue: EventQueue,
    private opts: BatcherOptions,
  ) {
    this.maxInFlight = opts.maxInFlight ?? 4;
  }

  add(event: QueuedEvent): Promise<void> {
    return this.addAll([event]);
  }

  /** Queues the events of one request together, in one job: they are acknowledged, or refused, together. */
  addAll(events: QueuedEvent[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ events, resolve, reject, deadline: Date.now() + this.opts.timeoutMs });
      this.pendingEvents += events.length;
      this.schedule();
    });
  }

  private timeoutError(): QueueUnavailableError {
    return new QueueUnavailableError(new Error(`no answer in ${this.opts.timeoutMs} ms`));
  }

  /** Refuses the requests that waited their whole budget for a write slot (the queue is slow or down). */
  private expire(): void {
    const now = Date.now();
    if (this.pending.length > 0 && this.pending[0]!.deadline <= now) {
      // Waiters are in arrival order: the first ones expire first.
      let n = 1;
      while (n < this.pending.length && this.pending[n]!.deadline <= now) n++;
      const error = this.timeoutError();
      for (const w of this.pending.splice(0, n)) {
        this.pendingEvents -= w.events.length;
        w.reject(error);
      }
    }
    // One timer, for the oldest waiter; re-armed only when that waiter changes.
    const head = this.pending[0]?.deadline;
    if (head === this.expiryAt) return;
    clearTimeout(this.expiry);
    this.expiry = undefined;
    this.expiryAt = head;
    if (head === undefined) return;
    this.expiry = setTimeout(() => {
      this.expiry = undefined;
      this.expiryAt = undefined;
      this.schedule();
    }, Math.max(1, head - now));
    this.expiry.unref();
  }

  private schedule(): void {
    this.expire();
    if (this.pending.length === 0 || this.scheduled) return;
    const full = this.pendingEvents >= this.opts.maxBatch;
    // Wait for the write in flight unless the batch is full: that wait is what makes batches.
    if (this.inFlight > 0 && !(full && this.inFlight < this.maxInFlight)) return;
    this.scheduled = true;
    // setImmediate lets every request already read in this turn of the event loop join the batch.
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    this.expire();
    if (this.pending.length === 0) return;
    // Whole requests, up to maxBatch events (a request larger than that makes a job of its own).
    let take = 0;
    let events = 0;
    while (take < this.pending.length && (take === 0 || events + this.pending[take]!.events.length <= this.opts.maxBatch)) {
      events += this.pending[take]!.events.length;
      take++;
    }
    const batch = this.pending.splice(0, take);
    this.pendingEvents -= events;
    // The oldest request of the batch sets how long the write may take (and retry).
    const deadline = batch[0]!.deadline;
    this.inFlight++;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.timeoutError()), Math.max(0, deadline - Date.now()));
    });
    Promise.race([this.queue.enqueue(batch.flatMap((w) => w.events), { deadline }), timeout])
      .then(
        () => batch.forEach((w) => w.resolve()),
        (err: unknown) => {
          const error = err instanceof QueueUnavailableError ? err : new QueueUnavailableError(err);
          batch.forEach((w) => w.reject(error));
        },
      )
      .finally(() => {
        clearTimeout(timer);
        this.inFlight--;
        this.schedule();
      });
    this.schedule();
  }
}
