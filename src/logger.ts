// Logs: readable lines by default ("[2024-01-15T10:30:00.000Z] Processing event for site: x"),
// JSON lines with LOG_FORMAT=json for log shippers.
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { Config } from './config.js';

export type { Logger };

export function createLogger(config: Pick<Config, 'log'>, name: string): Logger {
  const options = { level: config.log.level, base: { service: name } };
  if (config.log.format === 'json') return pino(options);
  const stream = pretty({
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
  return pino(options, stream);
}
