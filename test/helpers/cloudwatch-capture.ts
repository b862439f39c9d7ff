// A local stand-in for CloudWatch Logs (no emulator exists): a node:http server that speaks its
// JSON protocol (`POST /`, `x-amz-target: Logs_20140328.<Op>`, `application/x-amz-json-1.1`) for
// CreateLogGroup, CreateLogStream and PutLogEvents, keeps what it receives, enforces PutLogEvents'
// limits like the service (a breach is recorded and refused), and can be told to fail, hang, reset
// connections, or go down and come back on the same port.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface CapturedRequest {
  op: string;
  body: any;
  authorization: string | undefined;
  contentType: string | undefined;
}

export interface CapturedEvent {
  timestamp: number;
  message: string;
}

export type CaptureMode = 'ok' | 'error' | 'hang' | 'reset';

const LIMITS = { maxEvents: 10_000, maxBatchBytes: 1_048_576, maxEventBytes: 256 * 1024, overhead: 26, maxSpanMs: 24 * 3600 * 1000 };

export class CloudWatchCapture {
  readonly requests: CapturedRequest[] = [];
  /** group → stream → events, in arrival order. */
  readonly groups = new Map<string, Map<string, CapturedEvent[]>>();
  /** PutLogEvents requests that broke a limit of the API (each one was answered 400). */
  readonly violations: string[] = [];
  mode: CaptureMode = 'ok';
  /** Requests still to answer with a 500 before answering normally again. */
  failNext = 0;
  private server: http.Server;
  private readonly sockets = new Set<Socket>();
  private port = 0;

  private constructor() {
    this.server = this.createServer();
  }

  static async start(opts: { groups?: string[] } = {}): Promise<CloudWatchCapture> {
    const capture = new CloudWatchCapture();
    for (const g of opts.groups ?? []) capture.groups.set(g, new Map());
    await capture.listen(0);
    return capture;
  }

  get listening(): boolean {
    return this.server.listening;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The environment that points a built process at this server (credentials are placeholders). */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      ENABLE_CLOUDWATCH: 'true',
      AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: this.url,
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      // Never ask the instance metadata service for credentials.
      AWS_EC2_METADATA_DISABLED: 'true',
      ...extra,
    };
  }

  ops(op?: string): CapturedRequest[] {
    return op ? this.requests.filter((r) => r.op === op) : this.requests;
  }

  /** Every event of a group, in arrival order, with the stream it went to. */
  events(group: string, streamPrefix = ''): (CapturedEvent & { stream: string })[] {
    const out: (CapturedEvent & { stream: string })[] = [];
    for (const [stream, events] of this.groups.get(group) ?? []) {
      if (stream.startsWith(streamPrefix)) for (const e of events) out.push({ ...e, stream });
    }
    return out;
  }

  streams(group: string): string[] {
    return [...(this.groups.get(group)?.keys() ?? [])];
  }

  /** Stops listening and drops open connections: the endpoint refuses connections. */
  async down(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
    });
  }

  /** Listens again on the same port. */
  async up(): Promise<void> {
    this.server = this.createServer();
    await this.listen(this.port);
  }

  async close(): Promise<void> {
    if (this.server.listening) await this.down();
  }

  private createServer(): http.Server {
    const server = http.createServer((req, res) => this.handle(req, res));
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    return server;
  }

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.port = (this.server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (this.mode === 'reset') {
        req.socket.destroy();
        return;
      }
      if (this.mode === 'hang') return;
      const target = String(req.headers['x-amz-target'] ?? '');
      const op = target.startsWith('Logs_20140328.') ? target.slice('Logs_20140328.'.length) : target;
      let body: any;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      } catch {
        return this.error(res, 400, 'SerializationException', 'body is not JSON');
      }
      this.requests.push({ op, body, authorization: req.headers.authorization, contentType: req.headers['content-type'] });
      if (this.mode === 'error' || this.failNext > 0) {
        if (this.failNext > 0) this.failNext--;
        return this.error(res, 500, 'ServiceUnavailableException', 'The service is unavailable (capture server told to fail)');
      }
      this.answer(op, body, res);
    });
  }

  private answer(op: string, body: any, res: http.ServerResponse): void {
    const group = this.groups.get(body.logGroupName);
    switch (op) {
      case 'CreateLogGroup':
        if (group) return this.error(res, 400, 'ResourceAlreadyExistsException', 'The specified log group already exists');
        this.groups.set(body.logGroupName, new Map());
        return this.ok(res, {});
      case 'CreateLogStream':
        if (!group) return this.error(res, 400, 'ResourceNotFoundException', 'The specified log group does not exist.');
        if (group.has(body.logStreamName)) return this.error(res, 400, 'ResourceAlreadyExistsException', 'The specified log stream already exists');
        group.set(body.logStreamName, []);
        return this.ok(res, {});
      case 'PutLogEvents': {
        const stream = group?.get(body.logStreamName);
        if (!stream) return this.error(res, 400, 'ResourceNotFoundException', 'The specified log stream does not exist.');
        const events: CapturedEvent[] = body.logEvents ?? [];
        const breach = checkBatch(events);
        if (breach) {
          this.violations.push(breach);
          return this.error(res, 400, 'InvalidParameterException', breach);
        }
        stream.push(...events.map((e) => ({ timestamp: e.timestamp, message: e.message })));
        return this.ok(res, {});
      }
      default:
        return this.error(res, 400, 'UnknownOperationException', `capture server does not know ${op}`);
    }
  }

  private ok(res: http.ServerResponse, body: unknown): void {
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': String(this.requests.length) });
    res.end(JSON.stringify(body));
  }

  private error(res: http.ServerResponse, status: number, type: string, message: string): void {
    res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': type });
    res.end(JSON.stringify({ __type: type, message }));
  }
}

/** PutLogEvents' constraints; returns what a batch breaks, or undefined. */
function checkBatch(events: CapturedEvent[]): string | undefined {
  if (events.length === 0) return 'empty batch';
  if (events.length > LIMITS.maxEvents) return `${events.length} events in one batch`;
  let bytes = 0;
  for (let i = 0; i < events.length; i++) {
    const size = Buffer.byteLength(events[i]!.message, 'utf8') + LIMITS.overhead;
    if (size > LIMITS.maxEventBytes) return `event ${i} is ${size} bytes`;
    if (i > 0 && events[i]!.timestamp < events[i - 1]!.timestamp) return `event ${i} is older than event ${i - 1}`;
    bytes += size;
  }
  if (bytes > LIMITS.maxBatchBytes) return `batch of ${bytes} bytes`;
  if (events.at(-1)!.timestamp - events[0]!.timestamp > LIMITS.maxSpanMs) return 'batch spans more than 24 hours';
  return undefined;
}
