// The in-process worker of embedded mode (a worker thread of `npm start`). It has its own logger
// (and, with CloudWatch, its own log stream), flushed before the thread ends.
import { parentPort } from 'node:worker_threads';
import { createLogger, flushLogs } from '../logger.js';
import { configOrExit, fatal } from '../process.js';
import { createRegistry } from '../metrics/registry.js';
import { answerMetricsRequests } from '../metrics/thread.js';
import { WorkerMetrics } from '../metrics/worker.js';
import { limitHeapGrowth } from './heap.js';
import { startWorker } from './run.js';

limitHeapGrowth();
// The main thread loaded .env and checked the same configuration already.
const config = configOrExit('worker', { dotEnv: false });
const logger = createLogger(config, 'worker');
// The process metrics are the main thread's; this registry holds the worker's own.
const metrics = new WorkerMetrics(createRegistry({ processMetrics: false }));
answerMetricsRequests(parentPort!, metrics.registry);
try {
  const worker = await startWorker(config, logger, { onFatal: (err) => fatal(logger, err, '') }, { metrics, inThread: true });
  // The API's worker watch counts from here.
  parentPort!.postMessage({ type: 'worker-started' });
  parentPort!.on('message', (msg) => {
    // process.exit in a worker thread ends the thread only, whatever handles are still open; ship
    // what this thread logged first.
    if (msg === 'close') void worker.close().finally(() => flushLogs().finally(() => process.exit(0)));
  });
} catch (err) {
  fatal(logger, err);
}
