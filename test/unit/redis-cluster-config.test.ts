// REDIS_CLUSTER_NODES and the key prefix on a cluster: parsing, the hash-tag rule, clear refusals.
import { describe, expect, it } from 'vitest';
import { ConfigError, hashTag, loadConfig } from '../../src/config.js';
import { onlineReplicas } from '../../src/queue/replication.js';

describe('Redis Cluster configuration', () => {
  it('reads the node list, selects BullMQ and defaults the prefix to {bull}', () => {
    const c = loadConfig({ REDIS_CLUSTER_NODES: 'redis-1:7000, 10.0.0.2:7001,[::1]:7002,', REDIS_PASSWORD: 'pw' });
    expect(c.queue.kind).toBe('bullmq');
    expect(c.queue.prefix).toBe('{bull}');
    expect(c.redis).toEqual({
      port: 6379,
      password: 'pw',
      cluster: {
        nodes: [
          { host: 'redis-1', port: 7000 },
          { host: '10.0.0.2', port: 7001 },
          { host: '::1', port: 7002 },
        ],
        waitReplicas: 1,
      },
    });
    expect(c.worker.inProcess).toBe(false);
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'r:7000', REDIS_CLUSTER_WAIT_REPLICAS: '0' }).redis!.cluster!.waitReplicas).toBe(0);
    // Without a cluster the prefix stays `bull`.
    expect(loadConfig({ REDIS_HOST: 'r' }).queue.prefix).toBe('bull');
    expect(loadConfig({}).queue.prefix).toBe('bull');
  });

  it('accepts a braced QUEUE_PREFIX and refuses one without a hash tag, saying what to set', () => {
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'r:7000', QUEUE_PREFIX: '{analytics}' }).queue.prefix).toBe('{analytics}');
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'r:7000', QUEUE_PREFIX: 'prod-{analytics}' }).queue.prefix).toBe('prod-{analytics}');
    for (const prefix of ['bull', 'a{}b', '}x{', '{unclosed']) {
      expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'r:7000', QUEUE_PREFIX: prefix })).toThrow(ConfigError);
    }
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'r:7000', QUEUE_PREFIX: 'analytics' })).toThrow(
      /QUEUE_PREFIX "analytics" has no hash tag.*QUEUE_PREFIX=\{analytics\}/,
    );
  });

  it('refuses malformed node lists and a cluster next to a single Redis', () => {
    for (const nodes of ['redis-1', 'redis-1:', ':7000', 'redis-1:70000', 'redis-1:0', 'redis://r:7000', 'a b:1', ',,']) {
      expect(() => loadConfig({ REDIS_CLUSTER_NODES: nodes }), nodes).toThrow(/REDIS_CLUSTER_NODES/);
    }
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'r:7000', REDIS_URL: 'redis://r:6379' })).toThrow(/either REDIS_CLUSTER_NODES .* or REDIS_URL/);
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'r:7000', REDIS_HOST: 'r' })).toThrow(/not both/);
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'r:7000', REDIS_CLUSTER_WAIT_REPLICAS: '-1' })).toThrow(/REDIS_CLUSTER_WAIT_REPLICAS/);
  });

  it('computes hash tags as Redis Cluster does', () => {
    expect(hashTag('{bull}:analytics_events:wait')).toBe('bull');
    expect(hashTag('prefix{tag}rest{other}')).toBe('tag');
    expect(hashTag('{}{bull}')).toBeUndefined(); // the first { and the first } after it enclose nothing
    expect(hashTag('a}b{c}')).toBe('c');
    expect(hashTag('bull:analytics_events:wait')).toBeUndefined();
    expect(hashTag('{bull')).toBeUndefined();
  });

  it('counts the replicas a master reports online', () => {
    const info = [
      '# Replication',
      'role:master',
      'connected_slaves:3',
      'slave0:ip=127.0.0.1,port=7003,state=online,offset=1234,lag=0',
      'slave1:ip=127.0.0.1,port=7004,state=wait_bgsave,offset=0,lag=0',
      'slave2:ip=127.0.0.1,port=7005,state=online,offset=1234,lag=1',
      'master_repl_offset:1234',
    ].join('\r\n');
    expect(onlineReplicas(info)).toBe(2);
    expect(onlineReplicas('# Replication\r\nrole:master\r\nconnected_slaves:0\r\n')).toBe(0);
  });
});
