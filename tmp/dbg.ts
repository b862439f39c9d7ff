import { RedisCluster } from '../test/helpers/redis-cluster.js';
const c = await RedisCluster.start({ password: 'x' });
console.log(JSON.stringify(await c.topology()));
console.log(await c.ownerOf('{bull}:abc:wait'));
await c.stop();
