// The in-process worker of embedded mode (a worker thread of `npm start`). It has its own logger
// (and, with CloudWatch, its own log stream), flushed before the thread ends.
import { parentPort } from 'node:worker_threads';
import { loadConfig } from '../config.js';
import { createLogger, flushLogs } from '../logger.js';
import { startWorker } from './run.js';

const config = loadConfig();
const logger = createLogger(config, 'worker');
let worker: Awaited<ReturnType<typeof startWorker>>;
try {
  worker = await startWorker(config, logger);
} catch (err) {
  // The main thread reports the error; ship what this thread logged before it ends.
  await flushLogs();
  throw err;
}
parentPort!.on('message', (msg) => {
  if (msg === 'close') void worker.close().finally(() => flushLogs().finally(() => parentPort!.close()));
});
