// CloudWatch Logs shipping, against a local server that speaks the CloudWatch Logs JSON protocol
// (test/helpers/cloudwatch-capture.ts; no emulator exists). The shipper runs with the real AWS SDK;
// the system tests start the built API (and a worker, and the cron) as child processes.
import fs from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MAX_MESSAGE_BYTES } from '../src/logging/event-buffer.js';
import { CloudWatchShipper, type CloudWatchShipperOptions, type RecoveryInfo } from '../src/logging/cloudwatch.js';
import { CloudWatchCapture } from './helpers/cloudwatch-capture.js';
import { REDIS_URL, serviceAvailable, uniqueName } from './helpers/services.js';
import { tempDir } from './helpers/stores.js';
import { API_ENTRY, CRON_ENTRY, spawnNode, System, type Proc } from './helpers/system.js';
import { until } from './helpers/wait.js';

const GROUP = 'test-group';
const STREAM = 'test/stream';

describe('CloudWatch shipper (real SDK, capture server)', () => {
  let capture: CloudWatchCapture;
  const open: CloudWatchShipper[] = [];
  let reports: string[];
  let recoveries: RecoveryInfo[];

  function shipper(overrides: Partial<CloudWatchShipperOptions> = {}): CloudWatchShipper {
    const s = new CloudWatchShipper({
      logGroupName: GROUP,
      logStreamName: STREAM,
      createLogGroup: true,
      region: 'eu-west-1',
      endpoint: capture.url,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      flushIntervalMs: 100,
      bufferMaxEvents: 100_000,
      bufferMaxBytes: 64 * 1024 * 1024,
      requestTimeoutMs: 5000,
      errorReportIntervalMs: 60_000,
      reportError: (line) => reports.push(line),
      onRecovered: (info) => recoveries.push(info),
      ...overrides,
    });
    open.push(s);
    return s;
  }
  const messages = () => capture.events(GROUP).map((e) => e.message);
  const puts = () => capture.ops('PutLogEvents');

  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close(0)));
    await capture?.close();
  });

  async function fresh(opts: { groups?: string[] } = {}) {
    capture = await CloudWatchCapture.start(opts);
    reports = [];
    recoveries = [];
  }

  it('creates the missing group and its stream, then delivers the lines in order, several per request', async () => {
    await fresh();
    const s = shipper();
    const lines = Array.from({ length: 200 }, (_, i) => JSON.stringify({ level: 30, msg: `line ${i}` }));
    for (const l of lines) s.write(l + '\n');
    // The server stores the lines before it answers: wait for the answer too (the shipper's count).
    await until(() => messages().length === 200 && s.stats().sent === 200, '200 lines delivered');

    expect(messages()).toEqual(lines);
    expect(capture.requests.slice(0, 3).map((r) => r.op)).toEqual(['CreateLogStream', 'CreateLogGroup', 'CreateLogStream']);
    expect(capture.streams(GROUP)).toEqual([STREAM]);
    expect(puts().length).toBeLessThan(200);
    expect(Math.max(...puts().map((p) => p.body.logEvents.length))).toBeGreaterThan(1);
    // Signed like any SDK request, in the service's JSON protocol.
    expect(capture.requests.every((r) => r.authorization?.startsWith('AWS4-HMAC-SHA256 ') && r.contentType === 'application/x-amz-json-1.1')).toBe(true);
    expect(puts().every((p) => p.body.sequenceToken === undefined)).toBe(true);
    expect(s.stats()).toMatchObject({ sent: 200, buffered: 0, dropped: 0, failedRequests: 0 });
    expect(reports).toEqual([]);
  });

  it('flushes on its timer when no further line comes', async () => {
    await fresh();
    const s = shipper({ flushIntervalMs: 200 });
    s.write('only line\n');
    await until(() => messages().length === 1, 'the single line delivered by the timer');
    s.write('second, later line\n');
    await until(() => messages().length === 2, 'the next line delivered by the timer');
    expect(messages()).toEqual(['only line', 'second, later line']);
    expect(puts().map((p) => p.body.logEvents.length)).toEqual([1, 1]);
  });

  it('uses an existing group; without permission to create one, keeps the lines and reports the error', async () => {
    await fresh({ groups: [GROUP] });
    const s = shipper({ createLogGroup: false });
    s.write('into an existing group\n');
    await until(() => messages().length === 1, 'delivery to the existing group');
    expect(capture.ops('CreateLogGroup')).toEqual([]);

    const missing = shipper({ createLogGroup: false, logGroupName: 'missing-group' });
    missing.write('kept\n');
    await until(() => missing.stats().failedRequests >= 1, 'a failed CreateLogStream');
    expect(capture.ops('CreateLogGroup')).toEqual([]);
    expect(missing.stats()).toMatchObject({ buffered: 1, sent: 0 });
    expect(reports.join('\n')).toMatch(/ResourceNotFoundException/);
  });

  it('keeps every request within the event count limit with many lines', async () => {
    await fresh();
    const s = shipper();
    const n = 25_000;
    for (let i = 0; i < n; i++) s.write(`l${i}\n`);
    await until(() => messages().length === n, `${n} lines delivered`, 60_000);
    expect(capture.violations).toEqual([]);
    expect(puts().length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...puts().map((p) => p.body.logEvents.length))).toBe(10_000);
    expect(messages().every((m, i) => m === `l${i}`)).toBe(true);
  });

  it('keeps every request within the byte limits with big lines, and truncates a line longer than an event may be', async () => {
    await fresh();
    const s = shipper();
    const big = Array.from({ length: 12 }, (_, i) => `${i}:` + 'x'.repeat(200 * 1024));
    // Two-byte characters, so that the cut has to land on a character boundary.
    const tooBig = 'é'.repeat(150 * 1024);
    for (const l of big) s.write(l + '\n');
    s.write(tooBig + '\n');
    await until(() => messages().length === 13, '13 big lines delivered');

    expect(capture.violations).toEqual([]);
    const batchBytes = puts().map((p) => p.body.logEvents.reduce((sum: number, e: any) => sum + Buffer.byteLength(e.message) + 26, 0));
    expect(Math.max(...batchBytes)).toBeLessThanOrEqual(1_048_576);
    expect(puts().length).toBeGreaterThanOrEqual(3);
    expect(messages().slice(0, 12)).toEqual(big);
    const cut = messages()[12]!;
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    expect(cut).toMatch(/^é+ …\[truncated: 307200 bytes, CloudWatch Logs takes 262118\]$/);
    expect(s.stats().truncated).toBe(1);
  });

  it('never sends a batch spanning more than 24 hours, and keeps timestamps in order when the clock goes back', async () => {
    await fresh();
    const t0 = Date.now();
    const times = [t0, t0 + 1, t0 - 5000, t0 + 25 * 3600_000, t0 + 25 * 3600_000 + 1];
    let i = 0;
    const s = shipper({ clock: () => times[i++]! });
    for (let k = 0; k < times.length; k++) s.write(`t${k}\n`);
    await until(() => messages().length === times.length, 'all lines delivered');
    expect(capture.violations).toEqual([]);
    expect(puts().map((p) => p.body.logEvents.map((e: any) => e.message))).toEqual([['t0', 't1', 't2'], ['t3', 't4']]);
    expect(capture.events(GROUP).map((e) => e.timestamp)).toEqual([t0, t0 + 1, t0 + 1, t0 + 25 * 3600_000, t0 + 25 * 3600_000 + 1]);
  });

  it('while CloudWatch is down, drops the oldest lines beyond the bound with a count, reports once, and says so when it delivers again', async () => {
    await fresh();
    await capture.down();
    const s = shipper({ bufferMaxEvents: 50 });
    for (let i = 0; i < 120; i++) s.write(`line ${i}\n`);
    expect(s.stats()).toMatchObject({ buffered: 50, dropped: 70 });
    await until(() => s.stats().failedRequests >= 2, 'two failed attempts (retried with backoff)');
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatch(/^CloudWatch Logs: cannot deliver \(.*ECONNREFUSED.*\); retrying in \d+ ms, 50 lines buffered, 70 dropped so far; log group test-group, stream test\/stream$/);

    await capture.up();
    await until(() => messages().length === 50 && s.stats().sent === 50, 'the kept lines delivered after the outage', 60_000);
    expect(messages()).toEqual(Array.from({ length: 50 }, (_, i) => `line ${i + 70}`));
    expect(recoveries).toHaveLength(1);
    expect(recoveries[0]).toMatchObject({ dropped: 70, droppedTotal: 70 });
    expect(recoveries[0]!.failedRequests).toBeGreaterThanOrEqual(2);
    expect(s.stats()).toMatchObject({ sent: 50, dropped: 70, buffered: 0 });
  });

  it('bounds the buffer by bytes too', async () => {
    await fresh();
    await capture.down();
    const maxBytes = 300 * 1024;
    const s = shipper({ bufferMaxBytes: maxBytes });
    for (let i = 0; i < 5; i++) s.write(`${i}` + 'y'.repeat(100 * 1024) + '\n');
    const st = s.stats();
    expect(st.bufferedBytes).toBeLessThanOrEqual(maxBytes);
    expect(st.buffered).toBe(2);
    expect(st.dropped).toBe(3);
  });

  it('retries a failing request with backoff: every line arrives once, in order', async () => {
    await fresh();
    capture.failNext = 3;
    const s = shipper();
    const lines = Array.from({ length: 10 }, (_, i) => `retry ${i}`);
    for (const l of lines) s.write(l + '\n');
    await until(() => messages().length === 10 && s.stats().sent === 10, 'delivery after three failures', 30_000);
    expect(messages()).toEqual(lines);
    expect(s.stats()).toMatchObject({ failedRequests: 3, sent: 10 });
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatch(/ServiceUnavailableException/);
    expect(recoveries).toEqual([{ dropped: 0, droppedTotal: 0, failedRequests: 3 }]);
  });

  it('close delivers what is buffered, without waiting for the timer', async () => {
    await fresh();
    const s = shipper({ flushIntervalMs: 3_600_000 });
    s.write('a\n');
    s.write('b\n');
    expect(await s.close(10_000)).toEqual({ undelivered: 0 });
    expect(messages()).toEqual(['a', 'b']);
  });

  it('close gives up at its deadline when CloudWatch hangs, and says how many lines were lost', async () => {
    await fresh();
    capture.mode = 'hang';
    const s = shipper({ requestTimeoutMs: 3_600_000 });
    for (let i = 0; i < 7; i++) s.write(`h${i}\n`);
    expect(await s.close(500)).toEqual({ undelivered: 7 });
    expect(reports.at(-1)).toMatch(/7 log lines not delivered at shutdown \(deadline 500 ms/);
  });

  it('close gives up at its deadline when CloudWatch refuses connections', async () => {
    await fresh();
    await capture.down();
    const s = shipper();
    s.write('lost\n');
    expect(await s.close(500)).toEqual({ undelivered: 1 });
  });
});

describe('CloudWatch Logs from the built processes', () => {
  let capture: CloudWatchCapture;
  let sys: System | undefined;

  beforeAll(async () => {
    capture = await CloudWatchCapture.start();
  });
  afterEach(async () => {
    await sys?.stop();
    sys = undefined;
    capture.mode = 'ok';
    if (!capture.listening) await capture.up();
  });
  afterAll(async () => {
    await capture.close();
  });

  /** The JSON records a group received from one service. */
  const records = (group: string, service: string) =>
    capture.events(group, `${service}/`).map((e) => ({ ...(JSON.parse(e.message) as { msg: string; level: number; service: string }), stream: e.stream }));

  async function exitsWithin(proc: Proc, ms: number): Promise<number | null | 'still running'> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'still running'>((r) => (timer = setTimeout(() => r('still running'), ms)));
    const result = await Promise.race([proc.exited, late]);
    clearTimeout(timer);
    return result;
  }

  it('ships the "API listening" line and the worker thread\'s lines to a stream each; stdout keeps its text lines', async () => {
    const group = uniqueName('cw');
    sys = await System.start({ mode: 'embedded', env: capture.env({ CLOUDWATCH_LOG_GROUP: group, CLOUDWATCH_FLUSH_INTERVAL_MS: '200' }) });
    await until(() => records(group, 'api').some((r) => /^API listening on http:\/\//.test(r.msg)), 'the API listening line in CloudWatch');
    await until(() => records(group, 'worker').some((r) => /^Worker started/.test(r.msg)), 'the worker thread line in CloudWatch');

    const api = records(group, 'api').find((r) => r.msg.startsWith('API listening'))!;
    expect(api).toMatchObject({ level: 30, service: 'api' });
    expect(api.stream).toMatch(new RegExp(`^api/[^/]+/${sys.api.pid}/\\d{4}-\\d\\d-\\d\\dT\\d\\d-\\d\\d-\\d\\d\\.\\d{3}Z$`));
    expect(records(group, 'worker')[0]!.stream).toMatch(new RegExp(`^worker/[^/]+/${sys.api.pid}-\\d+/`));
    // stdout is unchanged: the readable line, not JSON.
    expect(sys.api.lines.some((l) => /^\[\d{4}-\d\d-\d\dT[\d:.]+Z\] INFO: API listening on http/.test(l))).toBe(true);
  });

  it('SIGTERM flushes what the timer has not sent yet, from the API and its worker thread', async () => {
    const group = uniqueName('cw');
    sys = await System.start({ mode: 'embedded', env: capture.env({ CLOUDWATCH_LOG_GROUP: group, CLOUDWATCH_FLUSH_INTERVAL_MS: '3600000' }) });
    // Nothing is sent before the shutdown: the only timer tick is an hour away.
    expect(capture.ops('PutLogEvents').filter((p) => p.body.logGroupName === group)).toEqual([]);
    sys.api.kill('SIGTERM');
    expect(await exitsWithin(sys.api, 60_000)).toBe(0);
    const api = records(group, 'api').map((r) => r.msg);
    expect(api).toContainEqual(expect.stringMatching(/^API listening on/));
    expect(api).toContain('SIGTERM received: shutting down');
    expect(records(group, 'worker').map((r) => r.msg)).toContain('Worker stopped');
  });

  it('ships a fatal start-up error before the process exits', async () => {
    const group = uniqueName('cw');
    // The port is taken (by the capture server itself): listening fails after the store opened.
    const port = new URL(capture.url).port;
    const dataDir = tempDir('analytics-cw-');
    try {
      const env = capture.env({ CLOUDWATCH_LOG_GROUP: group, CLOUDWATCH_FLUSH_INTERVAL_MS: '3600000', PORT: port, HOST: '127.0.0.1', DATA_DIR: dataDir });
      const api = spawnNode(API_ENTRY, env, 'api');
      expect(await exitsWithin(api, 60_000)).toBe(1);
      expect(api.output()).toMatch(/FATAL: Cannot start: .*EADDRINUSE/);
      const fatal = records(group, 'api').find((r) => r.level === 60);
      expect(fatal?.msg).toMatch(/^Cannot start: .*EADDRINUSE/);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('with CloudWatch unreachable, the API answers every request of a burst and exits on SIGTERM within the deadline', async () => {
    const group = uniqueName('cw');
    await capture.down();
    sys = await System.start({
      mode: 'embedded',
      env: capture.env({ CLOUDWATCH_LOG_GROUP: group, CLOUDWATCH_FLUSH_INTERVAL_MS: '200', CLOUDWATCH_FLUSH_TIMEOUT_MS: '1000' }),
    });
    const site = await sys.createSite('CloudWatch down');
    for (let wave = 0; wave < 10; wave++) {
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          i % 5 === 0
            ? sys!.request('GET', '/api/health').then((r) => r.status)
            : sys!.sendEvent(site, { site_id: site.site_id, event_type: 'pageview', path: `/w${wave}`, user_id: `u${i}` }).then((r) => r.status),
        ),
      );
      expect(answers.filter((s) => s === 200)).toHaveLength(10);
      expect(answers.filter((s) => s === 202)).toHaveLength(40);
    }
    await sys.statsWhen(site, '', (d) => d.total_views === 400);
    expect(sys.api.output()).toMatch(/CloudWatch Logs: cannot deliver \(.*ECONNREFUSED.*log group cw_/);

    sys.api.kill('SIGTERM');
    // Generous: the bound is the flush deadline of the API and of its worker thread, not a speed.
    expect(await exitsWithin(sys.api, 60_000)).toBe(0);
    expect(sys.api.output()).toMatch(/CloudWatch Logs: \d+ log lines? not delivered at shutdown \(deadline 1000 ms/);
  });

  it('after an outage, says on stdout and in CloudWatch how many lines were dropped', async () => {
    const group = uniqueName('cw');
    capture.mode = 'error';
    // One line of buffer: of the API's start-up lines, all but the newest ("API listening") are dropped.
    sys = await System.start({
      mode: 'embedded',
      env: capture.env({ CLOUDWATCH_LOG_GROUP: group, CLOUDWATCH_FLUSH_INTERVAL_MS: '200', CLOUDWATCH_BUFFER_MAX_EVENTS: '1' }),
    });
    // Both shippers of the process (API and worker thread) have failed at least once.
    const tried = (service: string) => capture.requests.some((r) => r.body.logGroupName === group && r.body.logStreamName?.startsWith(`${service}/`));
    await until(() => tried('api') && tried('worker'), 'a failed request from each shipper');
    await sys.api.waitForLine(/CloudWatch Logs: cannot deliver \(ServiceUnavailableException/);
    capture.mode = 'ok';
    const notice = /^\[.*\] WARN: CloudWatch Logs delivering again after \d+ failed requests?: (\d+) log lines? dropped meanwhile \(buffer full; (\d+) since start\) \{"cloudwatch":/;
    await sys.api.waitForLine(notice, 30_000);
    await until(() => records(group, 'api').some((r) => /^CloudWatch Logs delivering again/.test(r.msg)), 'the notice in CloudWatch');
    const api = records(group, 'api');
    expect(api.map((r) => r.msg)[0]).toMatch(/^API listening on/);
    // The API's notice counts the start-up lines the one-line buffer could not keep; stdout (which
    // also carries the worker thread's own notice) says the same number.
    const n = (api.find((r) => r.level === 40) as { cloudwatch?: { dropped: number; droppedTotal: number } }).cloudwatch!;
    expect(n.dropped).toBeGreaterThanOrEqual(1);
    expect(n.droppedTotal).toBe(n.dropped);
    expect(sys.api.lines.some((l) => notice.exec(l)?.[1] === String(n.dropped))).toBe(true);
    // The worker thread has its own buffer (and stream): its notice is its own.
    await until(() => records(group, 'worker').some((r) => /^CloudWatch Logs /.test(r.msg)), 'the worker thread notice in CloudWatch');
    expect(records(group, 'worker').filter((r) => /^CloudWatch Logs /.test(r.msg))).toHaveLength(1);
  });

  it('with CloudWatch hanging, the process exits on SIGTERM within the deadline', async () => {
    const group = uniqueName('cw');
    capture.mode = 'hang';
    sys = await System.start({
      mode: 'embedded',
      // An hour per request: only the shutdown deadline can end the hanging request.
      env: capture.env({ CLOUDWATCH_LOG_GROUP: group, CLOUDWATCH_FLUSH_INTERVAL_MS: '200', CLOUDWATCH_FLUSH_TIMEOUT_MS: '1000', CLOUDWATCH_REQUEST_TIMEOUT_MS: '3600000' }),
    });
    expect((await sys.request('GET', '/api/health')).status).toBe(200);
    sys.api.kill('SIGTERM');
    expect(await exitsWithin(sys.api, 60_000)).toBe(0);
    expect(sys.api.output()).toMatch(/not delivered at shutdown/);
  });

  it('the cron run ships its lines and exits by itself', async () => {
    const group = uniqueName('cw');
    sys = await System.start({ mode: 'embedded', env: { RUN_WORKER: 'false' } });
    const cron = spawnNode(CRON_ENTRY, { ...sys.env, ...capture.env({ CLOUDWATCH_LOG_GROUP: group, CLOUDWATCH_FLUSH_INTERVAL_MS: '3600000' }) }, 'cron');
    expect(await exitsWithin(cron, 60_000)).toBe(0);
    expect(records(group, 'cron').map((r) => r.msg)).toContainEqual(expect.stringMatching(/^Maintenance done/));
  });

  it('a worker process (BullMQ) ships its lines to its own stream', async (ctx) => {
    if (!(await serviceAvailable('Redis', REDIS_URL))) return ctx.skip();
    const group = uniqueName('cw');
    sys = await System.start({ mode: 'bullmq', env: capture.env({ CLOUDWATCH_LOG_GROUP: group, CLOUDWATCH_FLUSH_INTERVAL_MS: '200' }) });
    const worker = sys.workers[0]!;
    await until(() => records(group, 'worker').some((r) => /^Worker started: bullmq/.test(r.msg)), 'the worker line in CloudWatch');
    expect(records(group, 'worker')[0]!.stream).toMatch(new RegExp(`^worker/[^/]+/${worker.pid}/`));
    worker.kill('SIGTERM');
    expect(await exitsWithin(worker, 60_000)).toBe(0);
    expect(records(group, 'worker').map((r) => r.msg)).toContain('Worker stopped');
  });
});
