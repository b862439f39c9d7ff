// Process plumbing shared by the entry points: configuration at start, graceful shutdown on
// SIGTERM/SIGINT, one clear line before exiting on a fatal error, and the CloudWatch log lines
// delivered (within CLOUDWATCH_FLUSH_TIMEOUT_MS) before any exit.
import { ConfigError, loadConfig, loadDotEnv, type Config, type Role } from './config.js';
import { flushLogs, hasLogShipping, type Logger } from './logger.js';
import { StartupError } from './startup-error.js';

/**
 * Reads `.env` and the environment once, as every entry point does first. An invalid value prints
 * one line (`Invalid configuration: PORT must be a whole number, got "abc"`) and exits 1.
 */
export function configOrExit(role: Role, opts: { dotEnv?: boolean } = {}): Config {
  try {
    if (opts.dotEnv !== false) loadDotEnv();
    return loadConfig(process.env, role);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}

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

/** Whether an error's message is all the operator needs (no stack trace). */
export function isOperatorError(err: unknown): boolean {
  return err instanceof StartupError || err instanceof ConfigError;
}

/** Logs a fatal error (one line for an operator's error, with the stack otherwise) and exits 1. */
export function fatal(logger: Logger, err: unknown, prefix = 'Cannot start: '): void {
  const message = `${prefix}${err instanceof Error ? err.message : String(err)}`;
  if (isOperatorError(err)) logger.fatal(message);
  else logger.fatal({ err }, message);
  logger.flush?.();
  exitAfterFlush(1);
}

/** Exits with `code`: at once without CloudWatch, after `flushLogs` (bounded by its deadline) with it. */
export function exitAfterFlush(code: number): void {
  if (!hasLogShipping()) process.exit(code);
  void flushLogs().finally(() => process.exit(code));
}
