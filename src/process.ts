// Process plumbing shared by the entry points: graceful shutdown on SIGTERM/SIGINT, and the
// CloudWatch log lines delivered (within CLOUDWATCH_FLUSH_TIMEOUT_MS) before any exit.
import { flushLogs, hasLogShipping, type Logger } from './logger.js';

/** Runs `close` once on the first SIGTERM/SIGINT, flushes the logs, then exits; a second signal exits at once. */
export function onShutdown(logger: Logger, close: () => Promise<void>): void {
  let closing = false;
  const handler = (signal: NodeJS.Signals) => {
    if (closing) {
      logger.warn(`${signal} again: exiting now`);
      process.exit(1);
    }
    closing = true;
    logger.info(`${signal} received: shutting down`);
    close().then(
      () => exitAfterFlush(0),
      (err: Error) => {
        logger.error({ err }, `Shutdown failed: ${err.message}`);
        exitAfterFlush(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

/** Logs a start-up failure and exits 1, after the log lines are flushed to CloudWatch when it is on. */
export function fatal(logger: Logger, err: unknown): void {
  logger.fatal({ err }, `Cannot start: ${(err as Error).message}`);
  exitAfterFlush(1);
}

/** Exits with `code`: at once without CloudWatch, after `flushLogs` (bounded by its deadline) with it. */
export function exitAfterFlush(code: number): void {
  if (!hasLogShipping()) process.exit(code);
  void flushLogs().finally(() => process.exit(code));
}
