// `npm start` / `npm run dev`: the API, plus an in-process worker thread in embedded mode.
import { Worker } from 'node:worker_threads';
import { createLogger } from './logger.js';
import { configOrExit, fatal, onShutdown } from './process.js';
import { startServer } from './server.js';
import { threadMetrics } from './metrics/thread.js';

const config = configOrExit('api');
const logger = createLogger(config, 'api');

try {
  // With a worker thread, the API's worker watch starts once the thread's worker runs.
  const server = await startServer(config, logger, { onFatal: (err) => fatal(logger, err, ''), deferWorkerWatch: config.worker.inProcess });
  let thread: Worker | undefined;
  let stopping = false;
  if (config.worker.inProcess) {
    // A thread, not the API's event loop: store transactions never delay ingestion.
    // Under `npm run dev` (tsx) the thread registers tsx's loader before loading the TypeScript
    // entry; the built server runs plain JS.
    const dev = import.meta.url.endsWith('.ts');
    const entry = new URL(`./worker/thread.${dev ? 'ts' : 'js'}`, import.meta.url);
    thread = dev
      ? new Worker(`import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`, { eval: true })
      : new Worker(entry);
    thread.on('error', (err) => logger.error({ err }, `Worker thread failed: ${err.message}`));
    // One scrape of /metrics shows the thread's worker metrics too.
    server.addMetricsSource(threadMetrics(thread, config.ready.checkTimeoutMs));
    thread.on('message', (msg: unknown) => {
      if ((msg as { type?: unknown } | null)?.type === 'worker-started') server.startWorkerWatch();
    });
    thread.on('exit', (code) => {
      if (code !== 0 && !stopping) fatal(logger, new Error(`worker thread exited with code ${code}`));
    });
  }
  onShutdown(logger, async () => {
    stopping = true;
    await server.close();
    if (thread) {
      const t = thread;
      const exited = new Promise((r) => t.once('exit', r));
      t.postMessage('close');
      // The thread finishes its jobs within WORKER_SHUTDOWN_TIMEOUT_MS; past a little more, stop it.
      const deadline = setTimeout(() => void t.terminate(), config.worker.shutdownTimeoutMs + 5000);
      await exited;
      clearTimeout(deadline);
    }
  });
} catch (err) {
  fatal(logger, err);
}
