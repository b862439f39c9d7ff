// Ships the process's log lines to CloudWatch Logs. A pino destination of our own (combined with
// the stdout destination by pino.multistream): `write` only appends to a bounded in-memory buffer,
// so logging never waits for the network; one request at a time sends the buffer in batches that
// respect PutLogEvents' limits, at least every `flushIntervalMs`. When CloudWatch is unreachable or
// slow the oldest lines are dropped and counted, failed requests are retried with backoff, errors
// go to stderr at most once per `errorReportIntervalMs`, and `close` gives up at its deadline.
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { LIMITS, LogEventBuffer, type Batch, type BatchLimits } from './event-buffer.js';

export interface CloudWatchShipperOptions {
  logGroupName: string;
  logStreamName: string;
  /** Create the log group when CreateLogStream says it does not exist. */
  createLogGroup: boolean;
  region: string;
  /** Endpoint override (AWS_ENDPOINT_URL_CLOUDWATCH_LOGS); the SDK's default endpoint otherwise. */
  endpoint?: string;
  /** Explicit credentials (tests); the SDK's default provider chain otherwise. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  flushIntervalMs: number;
  bufferMaxEvents: number;
  bufferMaxBytes: number;
  /** One request that takes longer is aborted and retried. */
  requestTimeoutMs: number;
  /** Smaller batches than the API allows (tests); PutLogEvents' limits otherwise. */
  batchLimits?: Partial<BatchLimits>;
  errorReportIntervalMs?: number;
  /** Where failures are reported (stderr). */
  reportError?: (line: string) => void;
  /** Called after a successful request when lines were dropped or requests failed since the last call. */
  onRecovered?: (info: RecoveryInfo) => void;
  /** Clock of the event timestamps (tests); Date.now otherwise. Deadlines and backoff use Date.now. */
  clock?: () => number;
}

export interface RecoveryInfo {
  /** Lines dropped since the last notice. */
  dropped: number;
  droppedTotal: number;
  /** Requests that failed since the last notice. */
  failedRequests: number;
}

export interface ShipperStats {
  buffered: number;
  bufferedBytes: number;
  /** Events accepted by PutLogEvents. */
  sent: number;
  /** Lines dropped because the buffer was full (CloudWatch unreachable or slow). */
  dropped: number;
  /** Lines cut to the event size limit. */
  truncated: number;
  /** Events CloudWatch refused (too old, too new, expired, or an invalid batch). */
  rejected: number;
  failedRequests: number;
}

export interface CloseResult {
  /** Lines still buffered when the deadline passed (0: everything was delivered). */
  undelivered: number;
}

const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30_000;
const errorName = (err: unknown) => (err as { name?: string })?.name ?? 'Error';
const describe = (err: unknown) => {
  const e = err as { name?: string; code?: string; message?: string } | undefined;
  return [e?.name ?? 'Error', e?.code && e.code !== e.name ? e.code : undefined].filter(Boolean).join(' ') + `: ${e?.message || String(err)}`;
};

export class CloudWatchShipper {
  private readonly buffer: LogEventBuffer;
  private readonly batchLimits: BatchLimits;
  private readonly clock: () => number;
  private readonly now = Date.now;
  private readonly reportError: (line: string) => void;
  private readonly errorReportIntervalMs: number;
  /** Called after a successful request when lines were dropped or requests failed since the last call. */
  onRecovered: ((info: RecoveryInfo) => void) | undefined;
  private client: Promise<ClientApi> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  private pumpScheduled = false;
  private inflight: AbortController | undefined;
  private streamReady = false;
  private closing = false;
  /** While closing: no request may outlive this. */
  private closeDeadline = Infinity;
  private closed: Promise<CloseResult> | undefined;
  private consecutiveFailures = 0;
  private retryAt = 0;
  /** Sends continue without waiting for the next tick until this line (sequence number) is sent. */
  private flushThrough = 0;
  private written = 0;
  private lastErrorReport = -Infinity;
  private suppressedErrors = 0;
  private noticeDropped = 0;
  private noticeFailures = 0;
  private stats_ = { sent: 0, rejected: 0, failedRequests: 0 };

  constructor(private readonly options: CloudWatchShipperOptions) {
    this.buffer = new LogEventBuffer({ maxEvents: options.bufferMaxEvents, maxBytes: options.bufferMaxBytes });
    this.batchLimits = {
      maxEvents: Math.min(options.batchLimits?.maxEvents ?? LIMITS.maxBatchEvents, LIMITS.maxBatchEvents),
      maxBytes: Math.min(options.batchLimits?.maxBytes ?? LIMITS.maxBatchBytes, LIMITS.maxBatchBytes),
      maxSpanMs: Math.min(options.batchLimits?.maxSpanMs ?? LIMITS.maxBatchSpanMs, LIMITS.maxBatchSpanMs),
    };
    this.clock = options.clock ?? Date.now;
    this.reportError = options.reportError ?? ((line) => process.stderr.write(line + '\n'));
    this.errorReportIntervalMs = options.errorReportIntervalMs ?? 60_000;
    this.onRecovered = options.onRecovered;
    // Unref'd: the timer never keeps a process alive (cron and retry-failed end by themselves).
    this.timer = setInterval(() => this.tick(), options.flushIntervalMs);
    this.timer.unref();
  }

  /** The pino destination's entry point: O(1), never throws, never waits. */
  write(line: string): void {
    try {
      if (this.closed && !this.closing) return;
      const message = line.endsWith('\n') ? line.slice(0, -1) : line;
      if (message === '') return;
      this.buffer.push(message, this.clock());
      this.written++;
      if (!this.sending && this.buffer.hasFullBatch(this.batchLimits)) this.schedulePump();
    } catch {
      // A logging sink must never take the process down.
    }
  }

  stats(): ShipperStats {
    return {
      buffered: this.buffer.length,
      bufferedBytes: this.buffer.byteSize,
      sent: this.stats_.sent,
      dropped: this.buffer.dropped,
      truncated: this.buffer.truncated,
      rejected: this.stats_.rejected,
      failedRequests: this.stats_.failedRequests,
    };
  }

  /**
   * Stops the timer and sends what is buffered (and what is logged meanwhile) until the buffer is
   * empty or `timeoutMs` has passed; a request still running at the deadline is aborted. Never rejects.
   */
  close(timeoutMs: number): Promise<CloseResult> {
    this.closed ??= this.drain(timeoutMs);
    return this.closed;
  }

  private async drain(timeoutMs: number): Promise<CloseResult> {
    this.closing = true;
    clearInterval(this.timer);
    const deadline = this.now() + timeoutMs;
    this.closeDeadline = deadline;
    const stop = setTimeout(() => this.inflight?.abort(new Error('CloudWatch Logs flush deadline passed')), timeoutMs);
    try {
      while (this.buffer.length > 0 && this.now() < deadline) {
        if (this.sending) {
          await this.sending;
          continue;
        }
        const wait = Math.min(this.retryAt - this.now(), deadline - this.now());
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (this.now() >= deadline) break;
        this.flushThrough = this.written;
        await this.startSend(deadline);
      }
      if (this.sending) await this.sending;
    } catch {
      // startSend never rejects; this is belt and braces for the shutdown path.
    } finally {
      clearTimeout(stop);
      this.closing = false;
      void this.client?.then((c) => c.destroy(), () => {});
    }
    const undelivered = this.buffer.length;
    if (undelivered > 0) {
      this.reportError(`CloudWatch Logs: ${undelivered} log line${undelivered === 1 ? '' : 's'} not delivered at shutdown (deadline ${timeoutMs} ms; ${this.buffer.dropped} dropped earlier; ${this.where()})`);
    }
    return { undelivered };
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private tick(): void {
    this.flushThrough = this.written;
    this.pump();
  }

  /** Starts a send unless one is running, the buffer is empty, or a retry is waiting for its backoff. */
  private pump(): void {
    if (this.sending || this.closed || this.buffer.length === 0 || this.now() < this.retryAt) return;
    void this.startSend();
  }

  private startSend(deadline?: number): Promise<void> {
    this.sending = this.sendOne(deadline)
      .catch(() => {})
      .finally(() => {
        this.sending = undefined;
        // Keep going while a tick's lines remain, or a full batch is waiting.
        if (!this.closing && this.buffer.length > 0 && (this.sentThrough() < this.flushThrough || this.buffer.hasFullBatch(this.batchLimits))) {
          this.schedulePump();
        }
      });
    return this.sending;
  }

  /** Sequence number of the last line that left the buffer (sent, dropped or in flight). */
  private sentThrough(): number {
    return this.written - this.buffer.length;
  }

  private async sendOne(deadline?: number): Promise<void> {
    let batch: Batch | undefined;
    try {
      const client = await this.getClient();
      if (!this.streamReady) {
        await this.ensureStream(client, deadline);
        this.streamReady = true;
      }
      batch = this.buffer.takeBatch(this.batchLimits);
      if (batch.events.length === 0) return;
      const result = await this.request(deadline, (signal) => client.putLogEvents(this.options.logGroupName, this.options.logStreamName, batch!.events, signal));
      this.delivered(batch, result.rejected);
    } catch (err) {
      if (batch && errorName(err) === 'DataAlreadyAcceptedException') {
        // Only with sequence tokens (no longer used by the API): the batch is already there.
        this.delivered(batch, 0);
        return;
      }
      if (batch && errorName(err) === 'InvalidParameterException') {
        // A batch CloudWatch will never take (a bug on our side): retrying would wedge the stream.
        this.stats_.rejected += batch.events.length;
        this.report(`CloudWatch Logs: PutLogEvents refused a batch of ${batch.events.length} events (${describe(err)}); dropped`);
        return;
      }
      if (errorName(err) === 'ResourceNotFoundException') this.streamReady = false;
      if (batch) this.buffer.putBack(batch);
      this.failed(err);
    }
  }

  private delivered(batch: Batch, rejected: number): void {
    this.stats_.sent += batch.events.length - rejected;
    if (rejected > 0) {
      this.stats_.rejected += rejected;
      this.report(`CloudWatch Logs: ${rejected} of ${batch.events.length} events refused as too old or too new`);
    }
    this.consecutiveFailures = 0;
    this.retryAt = 0;
    const dropped = this.buffer.dropped - this.noticeDropped;
    if (dropped > 0 || this.noticeFailures > 0) {
      const info = { dropped, droppedTotal: this.buffer.dropped, failedRequests: this.noticeFailures };
      this.noticeDropped = this.buffer.dropped;
      this.noticeFailures = 0;
      try {
        this.onRecovered?.(info);
      } catch {
        // The notice is best effort.
      }
    }
  }

  private failed(err: unknown): void {
    this.stats_.failedRequests++;
    this.noticeFailures++;
    this.consecutiveFailures++;
    const backoff = Math.min(BACKOFF_BASE_MS * 2 ** (this.consecutiveFailures - 1), BACKOFF_MAX_MS);
    this.retryAt = this.now() + backoff;
    // Retry when the backoff ends rather than at the next tick (unref'd: never keeps the process alive).
    if (!this.closed) setTimeout(() => this.pump(), backoff).unref();
    this.report(
      `CloudWatch Logs: cannot deliver (${describe(err)}); ` +
        `retrying in ${backoff} ms, ${this.buffer.length} lines buffered, ${this.buffer.dropped} dropped so far; ${this.where()}`,
    );
  }

  private where(): string {
    return `log group ${this.options.logGroupName}, stream ${this.options.logStreamName}`;
  }

  /** At most one line per interval; the next one says how many were held back. */
  private report(line: string): void {
    const now = this.now();
    if (now - this.lastErrorReport < this.errorReportIntervalMs) {
      this.suppressedErrors++;
      return;
    }
    const held = this.suppressedErrors > 0 ? ` (${this.suppressedErrors} similar report${this.suppressedErrors === 1 ? '' : 's'} held back)` : '';
    this.lastErrorReport = now;
    this.suppressedErrors = 0;
    try {
      this.reportError(line + held);
    } catch {
      // stderr closed: nothing more to do.
    }
  }

  private async ensureStream(client: ClientApi, deadline?: number): Promise<void> {
    const { logGroupName, logStreamName } = this.options;
    const createStream = () => this.request(deadline, (signal) => client.createLogStream(logGroupName, logStreamName, signal));
    try {
      await createStream();
    } catch (err) {
      if (errorName(err) === 'ResourceAlreadyExistsException') return;
      if (errorName(err) !== 'ResourceNotFoundException' || !this.options.createLogGroup) throw err;
      try {
        await this.request(deadline, (signal) => client.createLogGroup(logGroupName, signal));
      } catch (groupErr) {
        if (errorName(groupErr) !== 'ResourceAlreadyExistsException') throw groupErr;
      }
      try {
        await createStream();
      } catch (again) {
        if (errorName(again) !== 'ResourceAlreadyExistsException') throw again;
      }
    }
  }

  /** One request, aborted after requestTimeoutMs or at the close deadline, whichever is first. */
  private async request<T>(deadline: number | undefined, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const until = Math.min(deadline ?? Infinity, this.closeDeadline);
    const limit = Math.max(0, Math.min(this.options.requestTimeoutMs, until - this.now()));
    const timer = setTimeout(() => controller.abort(new Error(`no answer in ${Math.round(limit)} ms`)), limit);
    this.inflight = controller;
    try {
      return await call(controller.signal);
    } finally {
      clearTimeout(timer);
      if (this.inflight === controller) this.inflight = undefined;
    }
  }

  private getClient(): Promise<ClientApi> {
    // The SDK is loaded on first use: processes without CloudWatch never pay for it.
    if (!this.client) {
      this.client = createClientApi(this.options);
      this.client.catch(() => {
        this.client = undefined;
      });
    }
    return this.client;
  }
}

/** The three calls the shipper makes, over the SDK client. */
interface ClientApi {
  createLogGroup(group: string, signal: AbortSignal): Promise<void>;
  createLogStream(group: string, stream: string, signal: AbortSignal): Promise<void>;
  putLogEvents(group: string, stream: string, events: { timestamp: number; message: string }[], signal: AbortSignal): Promise<{ rejected: number }>;
  destroy(): void;
}

async function createClientApi(options: CloudWatchShipperOptions): Promise<ClientApi> {
  const sdk = await import('@aws-sdk/client-cloudwatch-logs');
  const client: CloudWatchLogsClient = new sdk.CloudWatchLogsClient({
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    // Retries are ours (the buffer keeps the lines; the SDK's retries would hold one batch longer).
    maxAttempts: 1,
  });
  return {
    async createLogGroup(logGroupName, abortSignal) {
      await client.send(new sdk.CreateLogGroupCommand({ logGroupName }), { abortSignal });
    },
    async createLogStream(logGroupName, logStreamName, abortSignal) {
      await client.send(new sdk.CreateLogStreamCommand({ logGroupName, logStreamName }), { abortSignal });
    },
    async putLogEvents(logGroupName, logStreamName, events, abortSignal) {
      const logEvents = events.map((e) => ({ timestamp: e.timestamp, message: e.message }));
      const res = await client.send(new sdk.PutLogEventsCommand({ logGroupName, logStreamName, logEvents }), { abortSignal });
      const info = res.rejectedLogEventsInfo;
      const old = Math.max(info?.tooOldLogEventEndIndex ?? 0, info?.expiredLogEventEndIndex ?? 0);
      const tooNew = info?.tooNewLogEventStartIndex !== undefined ? events.length - info.tooNewLogEventStartIndex : 0;
      return { rejected: Math.min(events.length, old + tooNew) };
    },
    destroy: () => client.destroy(),
  };
}
