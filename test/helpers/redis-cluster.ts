// A private Redis Cluster for tests: 3 masters with a replica each, from `redis-server` on free
// loopback ports, created with `redis-cli --cluster create`. Every node fsyncs its AOF on each write
// (an acknowledged job survives). Nodes can be killed by PID to force a failover.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { IN_CI } from './services.js';
import { freePort } from './private-servers.js';
import { tempDir } from './stores.js';
import { canConnect, sleep } from './wait.js';

const run = promisify(execFile);

export interface ClusterNode {
  port: number;
  busPort: number;
  dir: string;
  proc: ChildProcess | undefined;
}

/** One line of CLUSTER NODES. */
export interface NodeInfo {
  id: string;
  port: number;
  flags: string[];
  masterId: string | undefined;
  slots: [number, number][];
}

/** Why a cluster cannot be started here (tools missing or too old), or undefined when it can. */
export function clusterUnavailableReason(): string | undefined {
  for (const tool of ['redis-server', 'redis-cli']) {
    const res = spawnSync(tool, ['--version'], { encoding: 'utf8' });
    if (res.error) return `${tool} not found (${(res.error as NodeJS.ErrnoException).code})`;
    // --cluster-port (a bus port of our choosing) needs Redis 7.
    const major = Number(/v=(\d+)|redis-cli (\d+)/.exec(res.stdout)?.slice(1).find(Boolean));
    if (!(major >= 7)) return `${tool} is older than 7 (${res.stdout.trim()})`;
  }
  return undefined;
}

/** Whether a suite that needs a cluster can run: throws in CI when it cannot, prints why and returns false elsewhere. */
export function clusterAvailable(): boolean {
  const reason = clusterUnavailableReason();
  if (reason === undefined) return true;
  if (IN_CI) throw new Error(`Redis Cluster tests: ${reason} (CI=true: redis-server and redis-cli must be installed)`);
  console.warn(`skipped: Redis Cluster tests need redis-server and redis-cli ≥ 7: ${reason}`);
  return false;
}

export interface ClusterOptions {
  masters?: number;
  /** How long a node may be unreachable before the others fail it over (redis default: 15 s). */
  nodeTimeoutMs?: number;
  password?: string;
}

export class RedisCluster {
  readonly nodes: ClusterNode[] = [];
  readonly root = tempDir('analytics-cluster-');

  private constructor(readonly opts: Required<Omit<ClusterOptions, 'password'>> & { password?: string }) {}

  static async start(options: ClusterOptions = {}): Promise<RedisCluster> {
    const cluster = new RedisCluster({ masters: 3, nodeTimeoutMs: 3000, ...options });
    try {
      await cluster.create();
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** REDIS_CLUSTER_NODES for the processes under test. */
  get nodeList(): string {
    return this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
  }

  get startupNodes(): { host: string; port: number }[] {
    return this.nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));
  }

  private async create(): Promise<void> {
    const count = this.opts.masters * 2;
    const ports = new Set<number>();
    while (ports.size < count * 2) ports.add(await freePort());
    const list = [...ports];
    for (let i = 0; i < count; i++) {
      const dir = path.join(this.root, `node-${i}`);
      fs.mkdirSync(dir);
      this.nodes.push({ port: list[2 * i]!, busPort: list[2 * i + 1]!, dir, proc: undefined });
    }
    await Promise.all(this.nodes.map((n) => this.startNode(n)));
    const auth = this.opts.password ? ['-a', this.opts.password, '--no-auth-warning'] : [];
    await run('redis-cli', [...auth, '--cluster', 'create', ...this.nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'], {
      timeout: 60_000,
    });
    await this.waitHealthy();
  }

  private async startNode(node: ClusterNode): Promise<void> {
    const args = [
      ...['--port', String(node.port), '--bind', '127.0.0.1', '--dir', node.dir],
      ...['--cluster-enabled', 'yes', '--cluster-port', String(node.busPort), '--cluster-config-file', 'nodes.conf'],
      ...['--cluster-node-timeout', String(this.opts.nodeTimeoutMs)],
      ...['--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--maxmemory-policy', 'noeviction'],
      // Replicas sync at once (the default waits 5 s for more replicas to share a diskless transfer).
      ...['--repl-diskless-sync-delay', '0'],
      ...(this.opts.password ? ['--requirepass', this.opts.password, '--masterauth', this.opts.password] : []),
    ];
    node.proc = spawn('redis-server', args, { stdio: 'ignore' });
    const end = Date.now() + 15_000;
    while (!(await canConnect(`redis://127.0.0.1:${node.port}`, 300))) {
      if (node.proc.exitCode !== null) throw new Error(`redis-server on port ${node.port} exited with ${node.proc.exitCode}`);
      if (Date.now() > end) throw new Error(`redis-server on port ${node.port} did not start`);
      await sleep(50);
    }
  }

  /** A plain (non-cluster) connection to one node, for CLUSTER commands. */
  connect(node: ClusterNode): Redis {
    const redis = new Redis({ host: '127.0.0.1', port: node.port, password: this.opts.password, maxRetriesPerRequest: 1, lazyConnect: true });
    redis.on('error', () => {});
    return redis;
  }

  private async onNode<T>(node: ClusterNode, fn: (r: Redis) => Promise<T>): Promise<T> {
    const redis = this.connect(node);
    try {
      await redis.connect();
      return await fn(redis);
    } finally {
      redis.disconnect();
    }
  }

  alive(): ClusterNode[] {
    return this.nodes.filter((n) => n.proc && n.proc.exitCode === null && n.proc.signalCode === null);
  }

  /** CLUSTER NODES as one live node sees it. */
  async topology(from = this.alive()[0]!): Promise<NodeInfo[]> {
    const text = await this.onNode(from, (r) => r.call('CLUSTER', 'NODES') as Promise<string>);
    return text
      .trim()
      .split('\n')
      .map((line) => {
        const [id, addr, flags, master, , , , , ...slots] = line.split(' ');
        return {
          id: id!,
          port: Number(/:(\d+)@/.exec(addr!)![1]),
          flags: flags!.split(','),
          masterId: master === '-' ? undefined : master,
          slots: slots.filter((s) => !s.startsWith('[')).map((s) => {
            const [a, b] = s.split('-').map(Number);
            return [a!, b ?? a!] as [number, number];
          }),
        };
      });
  }

  /** The node that serves `key` as master (CLUSTER KEYSLOT, then CLUSTER NODES), and its replicas. */
  async ownerOf(key: string): Promise<{ slot: number; master: ClusterNode; replicas: ClusterNode[] }> {
    const slot = Number(await this.onNode(this.alive()[0]!, (r) => r.call('CLUSTER', 'KEYSLOT', key)));
    const topology = await this.topology();
    const master = topology.find((n) => n.flags.includes('master') && !n.flags.includes('fail') && n.slots.some(([a, b]) => slot >= a && slot <= b));
    if (!master) throw new Error(`no master serves slot ${slot}`);
    const byPort = (port: number) => this.nodes.find((n) => n.port === port)!;
    return { slot, master: byPort(master.port), replicas: topology.filter((n) => n.masterId === master.id).map((n) => byPort(n.port)) };
  }

  /** kill -9 of one node. */
  async kill(node: ClusterNode): Promise<void> {
    const proc = node.proc!;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await exited;
  }

  /** SIGSTOP: the node stays connected but answers nothing (a hung replica), until resume(). */
  pause(node: ClusterNode): void {
    node.proc!.kill('SIGSTOP');
  }

  resume(node: ClusterNode): void {
    node.proc!.kill('SIGCONT');
  }

  /** Starts a killed node again (it rejoins as a replica of whoever took its slots). */
  async restart(node: ClusterNode): Promise<void> {
    await this.startNode(node);
  }

  /**
   * Waits until every live node says cluster_state:ok, every live replica is in sync with its master,
   * and all live nodes see the same masters, replicas and slots (gossip has settled).
   */
  async waitHealthy(timeoutMs = 60_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    const view = (nodes: NodeInfo[]) =>
      nodes
        .filter((n) => !n.flags.includes('fail'))
        .map((n) => `${n.id} ${n.flags.includes('master') ? 'master' : 'replica'} ${n.masterId ?? '-'} ${JSON.stringify(n.slots)}`)
        .sort()
        .join('\n');
    for (;;) {
      const states = await Promise.all(
        this.alive().map((n) =>
          this.onNode(n, async (r) => {
            const info = (await r.call('CLUSTER', 'INFO')) as string;
            const repl = await r.info('replication');
            const synced = /cluster_state:ok/.test(info) && (!/role:slave/.test(repl) || /master_link_status:up/.test(repl));
            return synced ? view(await this.topology(n)) : undefined;
          }).catch(() => undefined),
        ),
      );
      const replicas = states[0]?.split('\n').filter((l) => l.includes(' replica ')).length ?? 0;
      if (states.every((v) => v !== undefined && v === states[0]) && replicas === this.alive().length - this.opts.masters) return;
      if (Date.now() > end) throw new Error(`cluster not healthy in ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  /** Waits until `replica` is a master (promoted by the failover) and the cluster serves every slot again. */
  async waitPromoted(replica: ClusterNode, timeoutMs = 60_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const role = await this.onNode(replica, (r) => r.info('replication')).catch(() => '');
      if (/role:master/.test(role)) {
        const ok = await Promise.all(
          this.alive().map((n) => this.onNode(n, async (r) => /cluster_state:ok/.test((await r.call('CLUSTER', 'INFO')) as string)).catch(() => false)),
        );
        if (ok.every(Boolean)) return;
      }
      if (Date.now() > end) throw new Error(`replica on port ${replica.port} was not promoted in ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.alive().map(async (n) => {
        const exited = new Promise((r) => n.proc!.once('exit', r));
        n.proc!.kill('SIGKILL');
        await exited;
      }),
    );
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}
