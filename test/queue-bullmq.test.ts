import { describe } from 'vitest';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { BullmqEventConsumer, BullmqEventQueue } from '../src/queue/bullmq.js';
import { REDIS_URL, serviceAvailable, uniqueName } from './helpers/services.js';
import { queueContract, queueSettings } from './queue.contract.js';

const available = await serviceAvailable('Redis', REDIS_URL);
describe.runIf(available)('BullMQ', () => {
  queueContract('BullMQ on Redis', async (settings) => {
    const q = { ...settings, ...queueSettings({ ...settings, kind: 'bullmq', name: uniqueName('qtest') }) };
    const redis = { url: REDIS_URL, port: 6379 };
    const producer = new BullmqEventQueue(redis, q);
    await producer.queue.waitUntilReady();
    return {
      producer,
      consumer: (s) => new BullmqEventConsumer(redis, { ...s, name: q.name }, { flushMaxEvents: 1000 }),
      cleanup: async () => {
        const conn = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
        const queue = new Queue(q.name, { connection: conn });
        await queue.obliterate({ force: true });
        await queue.close();
        conn.disconnect();
        await producer.close();
      },
    };
  });
});
