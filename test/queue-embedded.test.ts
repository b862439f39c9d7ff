import fs from 'node:fs';
import path from 'node:path';
import { EmbeddedEventConsumer, EmbeddedEventQueue } from '../src/queue/embedded.js';
import { tempDir } from './helpers/stores.js';
import { queueContract } from './queue.contract.js';

queueContract('embedded SQLite queue', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'analytics.db');
  const producer = new EmbeddedEventQueue(file);
  return {
    producer,
    consumer: (q) => new EmbeddedEventConsumer(file, q, { flushMaxEvents: 1000, lockMs: q.lockMs, pollMs: 20 }),
    cleanup: async () => {
      await producer.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});
