// Embedded mode: the worker thread's metrics in the API's /metrics. The main thread asks, the thread
// answers with its registry's metrics as JSON, and the API merges them into one scrape.
import type { MessagePort, Worker } from 'node:worker_threads';
import type { Registry } from 'prom-client';
import type { MetricsJson } from './registry.js';

interface MetricsRequest {
  type: 'metrics-request';
  id: number;
}
interface MetricsReply {
  type: 'metrics-reply';
  id: number;
  metrics: MetricsJson;
}

/** In the thread. */
export function answerMetricsRequests(port: MessagePort, registry: Registry): void {
  port.on('message', (msg: unknown) => {
    if ((msg as MetricsRequest | null)?.type !== 'metrics-request') return;
    const { id } = msg as MetricsRequest;
    void registry.getMetricsAsJSON().then((metrics) => port.postMessage({ type: 'metrics-reply', id, metrics } satisfies MetricsReply));
  });
}

/**
 * In the main thread: a function that fetches the thread's metrics, or gives none when the thread
 * does not answer within `timeoutMs` (it is starting, stopping, or busy), so a scrape never hangs.
 */
export function threadMetrics(thread: Worker, timeoutMs: number): () => Promise<MetricsJson> {
  let next = 0;
  const waiting = new Map<number, (m: MetricsJson) => void>();
  thread.on('message', (msg: unknown) => {
    const reply = msg as MetricsReply | null;
    if (reply?.type !== 'metrics-reply') return;
    waiting.get(reply.id)?.(reply.metrics);
    waiting.delete(reply.id);
  });
  return () =>
    new Promise<MetricsJson>((resolve) => {
      const id = ++next;
      const timer = setTimeout(() => {
        waiting.delete(id);
        resolve([]);
      }, timeoutMs);
      waiting.set(id, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      thread.postMessage({ type: 'metrics-request', id } satisfies MetricsRequest);
    });
}
