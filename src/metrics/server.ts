// A worker's own small HTTP server (WORKER_METRICS_PORT): GET /metrics, with the API's access rule.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { refuseMetrics, type MetricsAccess } from './access.js';

export interface MetricsServer {
  /** `http://host:port`, with the port actually bound (WORKER_METRICS_PORT=0 picks a free one). */
  url: string;
  close(): Promise<void>;
}

export async function serveMetrics(registry: Registry, opts: { port: number; host: string; access: MetricsAccess }): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const json = (status: number, body: object) => res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      json(404, { success: false, error: 'Not found', message: `No route for ${req.method} ${path}; this is a worker's metrics server: GET /metrics` });
      return;
    }
    const refused = refuseMetrics(req.headers.authorization, opts.access);
    if (refused) {
      json(refused.status, refused.body);
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
      (err: Error) => json(500, { success: false, error: 'Internal server error', message: err.message }),
    );
  });
  // Scrapers keep connections open; close() must not wait for them.
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
