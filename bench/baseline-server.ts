// The ingestion baseline: a bare node:http server that parses the same JSON, validates it with the
// same zod schema, and does one Redis LPUSH per request. No auth, no batching, no framework.
import http from 'node:http';
import { Redis } from 'ioredis';
import { eventInputSchema } from '../src/ingest/schema.js';

const redis = new Redis(process.env.REDIS_URL!, { enableOfflineQueue: true });
const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const started = performance.now();
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString());
    } catch {
      res.writeHead(400).end('{"success":false,"error":"Invalid JSON"}');
      return;
    }
    const parsed = eventInputSchema.safeParse(body);
    if (!parsed.success) {
      res.writeHead(400).end('{"success":false,"error":"Validation failed"}');
      return;
    }
    redis.lpush('baseline:events', JSON.stringify(parsed.data)).then(
      () => {
        res.writeHead(202, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ success: true, message: 'Event queued successfully', processing_time_ms: performance.now() - started }));
      },
      () => res.writeHead(503).end('{"success":false}'),
    );
  });
});
server.listen(0, '127.0.0.1', () => {
  console.log(`baseline listening on http://127.0.0.1:${(server.address() as { port: number }).port}`);
});
process.on('SIGTERM', () => {
  server.close();
  redis.disconnect();
  process.exit(0);
});
