// The in-process worker of embedded mode (a worker thread of `npm start`).
import { parentPort } from 'node:worker_threads';
import { createLogger } from '../logger.js';
import { configOrExit, fatal } from '../process.js';
import { startWorker } from './run.js';

// The main thread loaded .env and checked the same configuration already.
const config = configOrExit('worker', { dotEnv: false });
const logger = createLogger(config, 'worker');
try {
  const worker = await startWorker(config, logger, { onFatal: (err) => fatal(logger, err, '') });
  parentPort!.on('message', (msg) => {
    // process.exit in a worker thread ends the thread only, whatever handles are still open.
    if (msg === 'close') void worker.close().finally(() => process.exit(0));
  });
} catch (err) {
  fatal(logger, err);
}
