// Private Redis and PostgreSQL servers, started by a test on their own ports so they can be
// killed and restarted without touching the shared services other tests use.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { tempDir } from './stores.js';
import { canConnect, sleep } from './wait.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

async function waitUp(url: string, up: boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while ((await canConnect(url, 300)) !== up) {
    if (Date.now() > end) throw new Error(`${url} did not go ${up ? 'up' : 'down'} in ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** redis-server with AOF fsynced on every write: an acknowledged job survives a kill -9. */
export class PrivateRedis {
  private proc: ChildProcess | undefined;
  readonly dir = tempDir('analytics-redis-');

  /** `durable: false` turns persistence off (benchmarks measure the software, not the disk). */
  constructor(readonly port: number, private durable = true) {}

  static async start(opts: { durable?: boolean } = {}): Promise<PrivateRedis> {
    const r = new PrivateRedis(await freePort(), opts.durable ?? true);
    await r.start();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.proc!.pid!;
  }

  async start(): Promise<void> {
    this.proc = spawn(
      'redis-server',
      [
        ...['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--maxmemory-policy', 'noeviction'],
        ...(this.durable ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
      ],
      { stdio: 'ignore' },
    );
    await waitUp(this.url, true);
  }

  async kill(): Promise<void> {
    const exited = new Promise((r) => this.proc!.once('exit', r));
    this.proc!.kill('SIGKILL');
    await exited;
    await waitUp(this.url, false);
  }

  async stop(): Promise<void> {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) await this.kill();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

const PG_BIN = (() => {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).sort() : [];
  return versions.length ? path.join(root, versions.at(-1)!, 'bin') : undefined;
})();

/** A throw-away PostgreSQL cluster (initdb) owned by the postgres user, as the server requires. */
export class PrivatePostgres {
  readonly dir = tempDir('analytics-pg-');
  constructor(readonly port: number) {}

  static available(): boolean {
    return PG_BIN !== undefined;
  }

  static async start(): Promise<PrivatePostgres> {
    const pg = new PrivatePostgres(await freePort());
    fs.chmodSync(pg.dir, 0o777);
    execFileSync('chown', ['postgres', pg.dir]);
    pg.asPostgres('initdb', ['-D', pg.data, '-A', 'trust', '-U', 'postgres']);
    await pg.start();
    return pg;
  }

  private get data(): string {
    return path.join(this.dir, 'data');
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  private asPostgres(tool: string, args: string[]): void {
    const cmd = process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', path.join(PG_BIN!, tool), ...args]] : [path.join(PG_BIN!, tool), args];
    execFileSync(cmd[0] as string, cmd[1] as string[], { stdio: 'ignore' });
  }

  async start(): Promise<void> {
    this.asPostgres('pg_ctl', ['-D', this.data, '-l', path.join(this.dir, 'log'), '-o', `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1`, '-w', 'start']);
    await waitUp(this.url, true);
  }

  /** Stops the server at once (connections are cut). */
  async stop(): Promise<void> {
    this.asPostgres('pg_ctl', ['-D', this.data, '-m', 'immediate', '-w', 'stop']);
    await waitUp(this.url, false);
  }

  async destroy(): Promise<void> {
    try {
      this.asPostgres('pg_ctl', ['-D', this.data, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // already stopped
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
