// Process plumbing shared by the entry points: graceful shutdown on SIGTERM/SIGINT.
import type { Logger } from './logger.js';

/** Runs `close` once on the first SIGTERM/SIGINT, then exits; a second signal exits at once. */
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
      () => process.exit(0),
      (err: Error) => {
        logger.error({ err }, `Shutdown failed: ${err.message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

export function fatal(logger: Logger, err: unknown): never {
  logger.fatal({ err }, `Cannot start: ${(err as Error).message}`);
  process.exit(1);
}
