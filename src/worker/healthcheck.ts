// The Docker health check of a worker container: `node dist/src/worker/healthcheck.js`. Healthy (exit 0)
// when a worker on this host sent a heartbeat to its queue's backend within
// WORKER_HEARTBEAT_TIMEOUT_SECONDS — it is running and reaches its queue — else exit 1 with the reason.
import os from 'node:os';
import { configOrExit } from '../process.js';
import { withTimeout } from '../metrics/cache.js';
import { openHeartbeats, type Heartbeats } from '../queue/heartbeat.js';
import { embeddedQueueFile } from '../queue/factory.js';
import { openStore } from '../store/index.js';
import type { AnalyticsStore } from '../store/port.js';

const config = configOrExit('worker');
const host = os.hostname();
let store: AnalyticsStore | undefined;
let heartbeats: Heartbeats | undefined;
let code = 1;
try {
  code = await withTimeout(
    (async () => {
      // SQS keeps heartbeats in the store; the other queues in their own backend.
      if (config.queue.kind === 'sqs') store = await openStore(config, { migrate: false });
      heartbeats = openHeartbeats(config, embeddedQueueFile(config), store!);
      const seen = await heartbeats.seenSince(Date.now() - config.heartbeat.timeoutMs);
      const mine = seen.filter((h) => h.host === host);
      if (mine.length > 0) {
        process.stdout.write(`healthy: worker ${mine[0]!.worker_id} seen ${((Date.now() - mine[0]!.seen_at) / 1000).toFixed(1)} s ago\n`);
        return 0;
      }
      process.stdout.write(`unhealthy: no heartbeat from a worker on ${host} in the last ${config.heartbeat.timeoutMs / 1000} s (${seen.length} from other hosts)\n`);
      return 1;
    })(),
    Math.max(1000, config.ready.checkTimeoutMs * 2),
    'heartbeat read',
  );
} catch (err) {
  process.stdout.write(`unhealthy: cannot read the heartbeats: ${(err as Error).message}\n`);
}
await heartbeats?.close().catch(() => {});
await store?.close().catch(() => {});
process.exit(code);
