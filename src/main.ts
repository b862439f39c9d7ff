// `npm start` / `npm run dev`: the API, plus an in-process worker thread in embedded mode.
import { Worker } from 'node:worker_threads';
import { loadConfig, loadDotEnv } from './config.js';
import { createLogger } from './logger.js';
import { fatal, onShutdown } from './process.js';
import { startServer } from './server.js';

loadDotEnv();
const config = loadConfig();
const logger = createLogger(config, 'api');

try {
  const server = await startServer(config, logger);
  let thread: Worker | undefined;
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
    thread.on('exit', (code) => {
      if (code !== 0) fatal(logger, new Error(`worker thread exited with code ${code}`));
    });
  }
  onShutdown(logger, async () => {
    await server.close();
    if (thread) {
      const exited = new Promise((r) => thread!.once('exit', r));
      thread.postMessage('close');
      await exited;
    }
  });
} catch (err) {
  fatal(logger, err);
}
