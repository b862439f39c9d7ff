// Logs: readable lines by default ("[2024-01-15T10:30:00.000Z] Processing event for site: x"),
// JSON lines with LOG_FORMAT=json for log shippers. With ENABLE_CLOUDWATCH=true the same records
// also go, as JSON lines, to CloudWatch Logs (src/logging/cloudwatch.ts); stdout is unchanged.
import os from 'node:os';
import { isMainThread, threadId } from 'node:worker_threads';
import { pino, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { CloudWatchConfig, Config } from './config.js';
import { CloudWatchShipper, type ShipperStats } from './logging/cloudwatch.js';

export type { Logger };

/** The shippers of this process (or worker thread: each thread has its own module instance). */
const shippers: { shipper: CloudWatchShipper; flushTimeoutMs: number }[] = [];

export function createLogger(config: Pick<Config, 'log'> & { cloudwatch?: CloudWatchConfig }, name: string): Logger {
  const options = { level: config.log.level, base: { service: name } };
  const cloudwatch = config.cloudwatch?.enabled && config.log.level !== 'silent' ? config.cloudwatch : undefined;
  if (!cloudwatch) return config.log.format === 'json' ? pino(options) : pino(options, stdoutDestination(config));

  const shipper = new CloudWatchShipper({
    logGroupName: cloudwatch.logGroup,
    logStreamName: logStreamName(name),
    createLogGroup: cloudwatch.createLogGroup,
    region: cloudwatch.region,
    endpoint: cloudwatch.endpoint,
    flushIntervalMs: cloudwatch.flushIntervalMs,
    bufferMaxEvents: cloudwatch.bufferMaxEvents,
    bufferMaxBytes: cloudwatch.bufferMaxBytes,
    requestTimeoutMs: cloudwatch.requestTimeoutMs,
  });
  shippers.push({ shipper, flushTimeoutMs: cloudwatch.flushTimeoutMs });
  const level = config.log.level;
  const logger = pino(options, pino.multistream([{ level, stream: stdoutDestination(config) }, { level, stream: shipper }]));
  // To stdout (and to CloudWatch, where it tells the gap): lines lost while CloudWatch was unreachable.
  shipper.onRecovered = ({ dropped, droppedTotal, failedRequests }) => {
    const lines = `${dropped} log line${dropped === 1 ? '' : 's'} dropped`;
    const msg =
      failedRequests > 0
        ? `CloudWatch Logs delivering again after ${failedRequests} failed request${failedRequests === 1 ? '' : 's'}: ${lines} meanwhile (buffer full; ${droppedTotal} since start)`
        : `CloudWatch Logs slower than the logging: ${lines} (buffer full; ${droppedTotal} since start)`;
    logger.warn({ cloudwatch: { dropped, droppedTotal, failedRequests } }, msg);
  };
  return logger;
}

/** stdout exactly as without CloudWatch: pino's default destination, or the single-line text form. */
function stdoutDestination(config: Pick<Config, 'log'>): DestinationStream {
  if (config.log.format === 'json') {
    // What pino(options) picks by itself: an asynchronous SonicBoom on fd 1, flushed at exit.
    const tampered = process.stdout.write !== Object.getPrototypeOf(process.stdout).write;
    return tampered ? process.stdout : pino.destination({ dest: process.stdout.fd || 1 });
  }
  return pretty({
    sync: true,
    colorize: false,
    translateTime: "UTC:yyyy-mm-dd'T'HH:MM:ss.l'Z'",
    ignore: 'pid,hostname,service',
    customPrettifiers: { time: (t) => `[${String(t)}]` },
    levelFirst: false,
    hideObject: false,
    singleLine: true,
    messageFormat: '{msg}',
  });
}

/**
 * `<service>/<hostname>/<pid>/<start time>`: one stream per process (a worker thread adds its
 * thread id), never reused by a restart. CloudWatch refuses ':' and '*' in stream names.
 */
export function logStreamName(service: string): string {
  const start = new Date().toISOString().replace(/:/g, '-');
  const pid = isMainThread ? String(process.pid) : `${process.pid}-${threadId}`;
  return [service, os.hostname(), pid, start].map((part) => part.replace(/[:*]/g, '-')).join('/');
}

/**
 * Delivers what the CloudWatch shippers of this process hold, each within its flush deadline;
 * resolves (never rejects) by then even when CloudWatch hangs. Immediate without CloudWatch.
 */
export async function flushLogs(): Promise<void> {
  const pending = shippers.splice(0);
  if (pending.length === 0) return;
  await Promise.all(
    pending.map(({ shipper, flushTimeoutMs }) => {
      // A second guard besides the shipper's own: shutdown must not depend on it being right.
      let guard: NodeJS.Timeout | undefined;
      const cap = new Promise<void>((resolve) => {
        guard = setTimeout(resolve, flushTimeoutMs + 1000);
      });
      return Promise.race([shipper.close(flushTimeoutMs).then(() => {}, () => {}), cap]).finally(() => clearTimeout(guard));
    }),
  );
}

export function hasLogShipping(): boolean {
  return shippers.length > 0;
}

/** Counters of the CloudWatch shipping of this process (undefined without CloudWatch), for metrics. */
export function logShippingStats(): ShipperStats | undefined {
  if (shippers.length === 0) return undefined;
  const all = shippers.map((s) => s.shipper.stats());
  return all.reduce((a, b) => ({
    buffered: a.buffered + b.buffered,
    bufferedBytes: a.bufferedBytes + b.bufferedBytes,
    sent: a.sent + b.sent,
    dropped: a.dropped + b.dropped,
    truncated: a.truncated + b.truncated,
    rejected: a.rejected + b.rejected,
    failedRequests: a.failedRequests + b.failedRequests,
  }));
}
