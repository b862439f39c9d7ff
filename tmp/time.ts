import { RedisCluster } from '../test/helpers/redis-cluster.js';
const t0 = Date.now();
const c = await RedisCluster.start();
console.log('total', Date.now() - t0, (await c.ownerOf('{bull}:x')).replicas.length);
await c.stop();
