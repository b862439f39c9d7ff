// The in-process worker of embedded mode (a worker thread of `npm start`).
import { parentPort } from 'node:worker_threads';
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { startWorker } from './run.js';

const config = loadConfig();
const logger = createLogger(config, 'worker');
const worker = await startWorker(config, logger);
parentPort!.on('message', (msg) => {
  if (msg === 'close') void worker.close().finally(() => parentPort!.close());
});
