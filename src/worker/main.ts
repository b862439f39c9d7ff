// `npm run worker` / `npm run worker:prod`: a worker process.
import { loadConfig, loadDotEnv } from '../config.js';
import { createLogger } from '../logger.js';
import { fatal, onShutdown } from '../process.js';
import { startWorker } from './run.js';

loadDotEnv();
const config = loadConfig();
const logger = createLogger(config, 'worker');
try {
  const worker = await startWorker(config, logger);
  onShutdown(logger, () => worker.close());
} catch (err) {
  fatal(logger, err);
}
