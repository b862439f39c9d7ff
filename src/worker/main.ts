// `npm run worker` / `npm run worker:prod`: a worker process.
import { createLogger } from '../logger.js';
import { configOrExit, fatal, onShutdown } from '../process.js';
import { limitHeapGrowth } from './heap.js';
import { startWorker } from './run.js';

limitHeapGrowth();

const config = configOrExit('worker');
const logger = createLogger(config, 'worker');
try {
  const worker = await startWorker(config, logger, { onFatal: (err) => fatal(logger, err, '') });
  onShutdown(logger, () => worker.close());
} catch (err) {
  fatal(logger, err);
}
