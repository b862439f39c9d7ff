// The log lines waiting for CloudWatch Logs: a bounded FIFO that drops the oldest line when full,
// and carves batches that PutLogEvents accepts. Pure data structure: no I/O, no timers.

/** PutLogEvents limits (CloudWatch Logs API reference, PutLogEvents). */
export const LIMITS = {
  /** Bytes added to each event's UTF-8 message when sizing events and batches. */
  eventOverheadBytes: 26,
  maxEventBytes: 256 * 1024,
  maxBatchEvents: 10_000,
  maxBatchBytes: 1_048_576,
  /** A batch may not span more than 24 hours. */
  maxBatchSpanMs: 24 * 3600 * 1000,
} as const;

/** Longest message of one event: a longer line is cut to this and marked. */
export const MAX_MESSAGE_BYTES = LIMITS.maxEventBytes - LIMITS.eventOverheadBytes;

export interface LogEvent {
  timestamp: number;
  message: string;
  /** UTF-8 bytes of the message plus the per-event overhead. */
  size: number;
}

export interface BufferLimits {
  maxEvents: number;
  maxBytes: number;
}

export interface BatchLimits {
  maxEvents: number;
  maxBytes: number;
  maxSpanMs: number;
}

export interface Batch {
  events: LogEvent[];
  bytes: number;
}

/**
 * Cuts `message` to MAX_MESSAGE_BYTES on a character boundary and says so at its end. A JSON line
 * cut this way is no longer valid JSON; the marker tells a reader why.
 */
export function truncateMessage(message: string, byteLength: number): string {
  const marker = ` …[truncated: ${byteLength} bytes, CloudWatch Logs takes ${MAX_MESSAGE_BYTES}]`;
  const buf = Buffer.from(message, 'utf8');
  let keep = MAX_MESSAGE_BYTES - Buffer.byteLength(marker, 'utf8');
  // Never split a multi-byte character: step back over continuation bytes (10xxxxxx).
  while (keep > 0 && (buf[keep]! & 0xc0) === 0x80) keep--;
  return buf.toString('utf8', 0, keep) + marker;
}

export class LogEventBuffer {
  private items: (LogEvent | undefined)[] = [];
  private head = 0;
  private bytes = 0;
  private lastTimestamp = 0;
  /** Lines dropped because the buffer was full, since the start. */
  dropped = 0;
  /** Lines cut to the event size limit, since the start. */
  truncated = 0;

  constructor(private readonly limits: BufferLimits) {}

  get length(): number {
    return this.items.length - this.head;
  }

  get byteSize(): number {
    return this.bytes;
  }

  /** Adds one line; timestamps never go backwards (PutLogEvents wants chronological order). */
  push(message: string, now: number): void {
    let size = Buffer.byteLength(message, 'utf8');
    if (size > MAX_MESSAGE_BYTES) {
      message = truncateMessage(message, size);
      size = Buffer.byteLength(message, 'utf8');
      this.truncated++;
    }
    const timestamp = now > this.lastTimestamp ? now : this.lastTimestamp;
    this.lastTimestamp = timestamp;
    this.items.push({ timestamp, message, size: size + LIMITS.eventOverheadBytes });
    this.bytes += size + LIMITS.eventOverheadBytes;
    this.trim();
  }

  /** Whether a full batch is waiting (send it now rather than at the next tick). */
  hasFullBatch(limits: BatchLimits): boolean {
    return this.length >= limits.maxEvents || this.bytes >= limits.maxBytes;
  }

  /** Removes and returns the oldest events that fit in one PutLogEvents request. */
  takeBatch(limits: BatchLimits): Batch {
    const events: LogEvent[] = [];
    let bytes = 0;
    while (this.length > 0 && events.length < limits.maxEvents) {
      const next = this.items[this.head]!;
      if (bytes + next.size > limits.maxBytes) break;
      if (events.length > 0 && next.timestamp - events[0]!.timestamp >= limits.maxSpanMs) break;
      events.push(next);
      bytes += next.size;
      this.shift();
    }
    return { events, bytes };
  }

  /** Puts a batch that could not be delivered back in front, then drops the oldest beyond the bound. */
  putBack(batch: Batch): void {
    if (batch.events.length === 0) return;
    const rest = this.items.slice(this.head) as LogEvent[];
    this.items = batch.events.concat(rest);
    this.head = 0;
    this.bytes += batch.bytes;
    this.trim();
  }

  private trim(): void {
    while (this.length > 0 && (this.length > this.limits.maxEvents || this.bytes > this.limits.maxBytes)) {
      this.shift();
      this.dropped++;
    }
  }

  private shift(): void {
    const event = this.items[this.head]!;
    this.items[this.head] = undefined;
    this.head++;
    this.bytes -= event.size;
    // Compact now and then so the array does not grow without bound.
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
