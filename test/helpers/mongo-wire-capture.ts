// A TCP server that speaks just enough of the MongoDB wire protocol for the official driver to
// connect, and records every command it is sent. It stores nothing and runs no query: each command
// gets a canned reply, or one the test scripted. Used to assert the exact commands an adapter sends;
// it is NOT a MongoDB and proves nothing about how a server would execute them.
import net from 'node:net';
import { BSON, Long, ObjectId, type Document } from 'bson';

const OP_REPLY = 1;
const OP_QUERY = 2004;
const OP_MSG = 2013;
const CHECKSUM_PRESENT = 1;
const MORE_TO_COME = 2;

export type Topology = 'replicaSet' | 'standalone' | 'mongos';

export interface CapturedCommand {
  /** The command name: the first key of the body (`find`, `update`, `commitTransaction`...). */
  name: string;
  /** `$db` (OP_MSG) or the database of `<db>.$cmd` (legacy OP_QUERY). */
  db: string;
  opCode: number;
  /** The kind-0 body section as sent. */
  body: Document;
  /** Kind-1 document sequences by identifier (`documents`, `updates`, `deletes`). */
  sequences: Record<string, Document[]>;
  /** The body with its document sequences merged in, as the server would see the command. */
  command: Document;
}

/** Returns a reply document, or undefined to leave the command to the next handler or the default. */
export type Responder = (cmd: CapturedCommand) => Document | undefined;

const HELLO_COMMANDS = new Set(['hello', 'ismaster', 'isMaster']);

/**
 * Commands of the driver's own machinery, not of the code under test: connection handshakes and
 * monitoring heartbeats (hello without a session), and the fire-and-forget `endSessions` of a
 * closing client, which may arrive after the next test began.
 */
export function isDriverHousekeeping(cmd: CapturedCommand): boolean {
  return (HELLO_COMMANDS.has(cmd.name) && cmd.command.lsid === undefined) || cmd.name === 'endSessions';
}

export class MongoWireCapture {
  readonly commands: CapturedCommand[] = [];
  private readonly server = net.createServer((socket) => this.serve(socket));
  private readonly sockets = new Set<net.Socket>();
  private once: Responder[] = [];
  private always: Responder[] = [];
  private requestId = 1;
  private connections = 0;
  private port = 0;

  constructor(readonly topology: Topology = 'replicaSet') {}

  static async start(topology: Topology = 'replicaSet'): Promise<MongoWireCapture> {
    const capture = new MongoWireCapture(topology);
    await new Promise<void>((resolve) => capture.server.listen(0, '127.0.0.1', resolve));
    capture.port = (capture.server.address() as net.AddressInfo).port;
    return capture;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  uri(path = ''): string {
    return `mongodb://${this.address}/${path}`;
  }

  /** Commands sent by the code under test (see isDriverHousekeeping), in arrival order. */
  sent(): CapturedCommand[] {
    return this.commands.filter((c) => !isDriverHousekeeping(c));
  }

  /** Answers the next command that `responder` accepts, once. */
  replyOnce(responder: Responder): void {
    this.once.push(responder);
  }

  /** Answers every command that `responder` accepts, until reset(). */
  reply(responder: Responder): void {
    this.always.push(responder);
  }

  /** Forgets recorded commands and scripted replies. */
  reset(): void {
    this.commands.length = 0;
    this.once = [];
    this.always = [];
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private serve(socket: net.Socket): void {
    this.sockets.add(socket);
    const connectionId = ++this.connections;
    let pending = Buffer.alloc(0);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= pending.readInt32LE(0)) {
        const length = pending.readInt32LE(0);
        const message = pending.subarray(0, length);
        pending = pending.subarray(length);
        const reply = this.handle(message, connectionId);
        if (reply && !socket.destroyed) socket.write(reply);
      }
    });
  }

  private handle(message: Buffer, connectionId: number): Buffer | undefined {
    const requestId = message.readInt32LE(4);
    const opCode = message.readInt32LE(12);
    if (opCode === OP_MSG) {
      const flags = message.readUInt32LE(16);
      const cmd = parseOpMsg(message, flags);
      const reply = this.answer(cmd, connectionId);
      return flags & MORE_TO_COME ? undefined : this.opMsg(requestId, reply);
    }
    if (opCode === OP_QUERY) {
      const cmd = parseOpQuery(message);
      return this.opReply(requestId, this.answer(cmd, connectionId));
    }
    throw new Error(`mongo-wire-capture: unsupported opCode ${opCode}`);
  }

  private answer(cmd: CapturedCommand, connectionId: number): Document {
    this.commands.push(cmd);
    for (const [i, r] of this.once.entries()) {
      const doc = r(cmd);
      if (doc !== undefined) {
        this.once.splice(i, 1);
        return doc;
      }
    }
    for (const r of this.always) {
      const doc = r(cmd);
      if (doc !== undefined) return doc;
    }
    return this.defaultReply(cmd, connectionId);
  }

  /** A plausible success for each command the driver may send. */
  private defaultReply(cmd: CapturedCommand, connectionId: number): Document {
    const c = cmd.command;
    switch (cmd.name) {
      case 'hello':
      case 'ismaster':
      case 'isMaster':
        return this.hello(connectionId);
      case 'insert':
        return { ok: 1, n: (c.documents as Document[]).length };
      case 'update':
        return updateReply(c.updates as Document[], () => true);
      case 'delete':
        return { ok: 1, n: 0 };
      case 'find':
      case 'aggregate':
      case 'listCollections':
        return cursorReply(cmd, []);
      case 'findAndModify':
        return { ok: 1, value: null, lastErrorObject: { n: 0, updatedExisting: false } };
      case 'getMore':
        return { ok: 1, cursor: { id: Long.ZERO, ns: `${cmd.db}.${String(c.collection)}`, nextBatch: [] } };
      case 'createIndexes':
        return { ok: 1, numIndexesBefore: 1, numIndexesAfter: 1 + (c.indexes as Document[]).length, createdCollectionAutomatically: false };
      case 'ping':
      case 'create':
      case 'drop':
      case 'endSessions':
      case 'commitTransaction':
      case 'abortTransaction':
      case 'killCursors':
        return { ok: 1 };
      default:
        return { ok: 0, errmsg: `no such command: '${cmd.name}'`, code: 59, codeName: 'CommandNotFound' };
    }
  }

  private hello(connectionId: number): Document {
    const common = {
      helloOk: true,
      ismaster: true,
      isWritablePrimary: true,
      maxBsonObjectSize: 16 * 1024 * 1024,
      maxMessageSizeBytes: 48_000_000,
      maxWriteBatchSize: 100_000,
      localTime: new Date(),
      logicalSessionTimeoutMinutes: 30,
      connectionId,
      minWireVersion: 0,
      maxWireVersion: 21,
      readOnly: false,
      ok: 1,
    };
    if (this.topology === 'standalone') return common;
    if (this.topology === 'mongos') return { ...common, msg: 'isdbgrid' };
    return {
      ...common,
      secondary: false,
      setName: 'rs0',
      setVersion: 1,
      electionId: new ObjectId('7fffffff0000000000000001'),
      hosts: [this.address],
      primary: this.address,
      me: this.address,
    };
  }

  private opMsg(responseTo: number, doc: Document): Buffer {
    const body = BSON.serialize(doc);
    const head = Buffer.alloc(21);
    head.writeInt32LE(21 + body.length, 0);
    head.writeInt32LE(this.requestId++, 4);
    head.writeInt32LE(responseTo, 8);
    head.writeInt32LE(OP_MSG, 12);
    head.writeUInt32LE(0, 16); // flagBits
    head.writeUInt8(0, 20); // section kind 0: the body
    return Buffer.concat([head, body]);
  }

  private opReply(responseTo: number, doc: Document): Buffer {
    const body = BSON.serialize(doc);
    const head = Buffer.alloc(36);
    head.writeInt32LE(36 + body.length, 0);
    head.writeInt32LE(this.requestId++, 4);
    head.writeInt32LE(responseTo, 8);
    head.writeInt32LE(OP_REPLY, 12);
    head.writeInt32LE(0, 16); // responseFlags
    head.writeBigInt64LE(0n, 20); // cursorID
    head.writeInt32LE(0, 28); // startingFrom
    head.writeInt32LE(1, 32); // numberReturned
    return Buffer.concat([head, body]);
  }
}

function readCString(buf: Buffer, at: number): [string, number] {
  const end = buf.indexOf(0, at);
  return [buf.toString('utf8', at, end), end + 1];
}

function parseOpMsg(message: Buffer, flags: number): CapturedCommand {
  const end = message.length - (flags & CHECKSUM_PRESENT ? 4 : 0);
  let body: Document | undefined;
  const sequences: Record<string, Document[]> = {};
  let at = 20;
  while (at < end) {
    const kind = message.readUInt8(at++);
    const size = message.readInt32LE(at);
    if (kind === 0) {
      body = BSON.deserialize(message.subarray(at, at + size));
      at += size;
    } else if (kind === 1) {
      const sectionEnd = at + size;
      const [identifier, docsAt] = readCString(message, at + 4);
      const docs: Document[] = [];
      for (let p = docsAt; p < sectionEnd; p += message.readInt32LE(p)) {
        docs.push(BSON.deserialize(message.subarray(p, p + message.readInt32LE(p))));
      }
      sequences[identifier] = docs;
      at = sectionEnd;
    } else {
      throw new Error(`mongo-wire-capture: unknown OP_MSG section kind ${kind}`);
    }
  }
  if (!body) throw new Error('mongo-wire-capture: OP_MSG without a body section');
  return {
    name: Object.keys(body)[0]!,
    db: String(body.$db),
    opCode: OP_MSG,
    body,
    sequences,
    command: { ...body, ...sequences },
  };
}

function parseOpQuery(message: Buffer): CapturedCommand {
  const [collection, next] = readCString(message, 20);
  const queryAt = next + 8; // numberToSkip, numberToReturn
  const body = BSON.deserialize(message.subarray(queryAt, queryAt + message.readInt32LE(queryAt)));
  return {
    name: Object.keys(body)[0]!,
    db: collection.replace(/\.\$cmd$/, ''),
    opCode: OP_QUERY,
    body,
    sequences: {},
    command: body,
  };
}

/** A cursor reply that ends at once (id 0) with `docs` as its only batch. */
export function cursorReply(cmd: CapturedCommand, docs: Document[]): Document {
  const collection = cmd.command[cmd.name];
  return { ok: 1, cursor: { id: Long.ZERO, ns: `${cmd.db}.${String(collection)}`, firstBatch: docs } };
}

/** An update reply in which the statements `upserted(index)` chooses inserted a document. */
export function updateReply(updates: Document[], upserted: (index: number) => boolean): Document {
  const inserted = updates.map((u, index) => ({ u, index })).filter(({ u, index }) => u.upsert === true && upserted(index));
  return {
    ok: 1,
    n: updates.length,
    nModified: updates.length - inserted.length,
    upserted: inserted.map(({ index }) => ({ index, _id: new ObjectId() })),
  };
}
