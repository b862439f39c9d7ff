// The queue on Amazon SQS (USE_SQS=true). A message carries one job payload (the events of one
// ingestion batch, split over several messages when it exceeds 256 KiB).
//  - Producer: a request is acknowledged only after SendMessageBatch accepted every message of it.
//  - Consumer: long-polls, gathers up to WORKER_FLUSH_MAX_EVENTS events from several receives into one
//    group, keeps the group invisible (ChangeMessageVisibility) while it is applied, and deletes the
//    messages only after the store committed. Attempts are SQS's ApproximateReceiveCount; a failed
//    attempt makes the message invisible for the backoff delay; after the last one it goes to the
//    dead-letter queue (SQS_DLQ_URL: sent there, then deleted; else the queue's redrive policy moves it).
import { GetQueueAttributesCommand, ReceiveMessageCommand, type SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';
import { uuidv7 } from '../core/id.js';
import type { Config, SqsConfig } from '../config.js';
import { jobPayload, type QueuedEvent } from '../core/event.js';
import { changeVisibility, createSqsClient, deleteAll, messageSize, queueDepth, redrivePolicy, sendAll, type OutgoingMessage } from './sqs-client.js';
import { encodeJobMessages, eventCount, MAX_MESSAGE_BYTES } from './sqs-messages.js';
import {
  QueueUnavailableError,
  backoffDelay,
  type ClaimedJob,
  type EventConsumer,
  type EventQueue,
  type GroupHandler,
  type QueueCounts,
} from './port.js';

export interface SqsAdapterOptions {
  /** Extra SQSClient settings (tests pass static credentials for the emulator). */
  clientOptions?: Partial<SQSClientConfig>;
}

export class SqsEventQueue implements EventQueue {
  readonly kind = 'sqs' as const;
  private client: SQSClient;

  constructor(private cfg: SqsConfig, opts: SqsAdapterOptions = {}) {
    this.client = createSqsClient(cfg, 0, opts.clientOptions);
  }

  async enqueue(events: QueuedEvent[]): Promise<void> {
    const batchId = uuidv7();
    try {
      const bodies = encodeJobMessages(jobPayload(events));
      await sendAll(this.client, this.cfg.queueUrl, bodies.map((body, i) => ({ body, dedupId: `${batchId}-${i}` })));
    } catch (err) {
      throw new QueueUnavailableError(err);
    }
  }

  async ping(): Promise<void> {
    await this.client.send(new GetQueueAttributesCommand({ QueueUrl: this.cfg.queueUrl, AttributeNames: ['QueueArn'] }));
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

interface Received {
  id: string;
  receiptHandle: string;
  body: string;
  data: unknown;
  /** ApproximateReceiveCount: this delivery is attempt number `receiveCount`. */
  receiveCount: number;
  events: number;
}

interface DeadLetter {
  url: string;
  /** true: SQS_DLQ_URL, the consumer moves messages itself; false: the queue's redrive policy does. */
  explicit: boolean;
  /** Attempts before a message is dead: JOB_ATTEMPTS, or the policy's maxReceiveCount. */
  attempts: number;
}

export interface SqsConsumerOptions extends SqsAdapterOptions {
  flushMaxEvents: number;
  logger?: { warn(msg: string): void; error(obj: object, msg: string): void };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class SqsEventConsumer implements EventConsumer {
  private client: SQSClient;
  /** Received and not finished, by receipt handle: their visibility is extended while held. */
  private held = new Map<string, Received>();
  /** Received beyond the room of the group being gathered: they open the next group. */
  private carry: Received[] = [];
  private closing = false;
  private loop: Promise<void> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private beat: Promise<unknown> | undefined;
  /** The group being applied, while it is. */
  private applying: Promise<void> | undefined;
  private deadLetter: Promise<DeadLetter> | undefined;
  /** Messages applied and deleted by this consumer since it started (SQS keeps no history). */
  private completed = 0;
  /** SQS counts visibility in whole seconds. */
  private readonly visibilitySeconds: number;

  constructor(
    private cfg: SqsConfig,
    private q: Config['queue'],
    private opts: SqsConsumerOptions,
  ) {
    this.client = createSqsClient(cfg, cfg.waitTimeSeconds, opts.clientOptions);
    this.visibilitySeconds = Math.max(1, Math.ceil(q.lockMs / 1000));
  }

  async start(handler: GroupHandler): Promise<void> {
    await this.resolveDeadLetter();
    // Three extensions per visibility window, so one late call does not let a group reappear.
    this.heartbeat = setInterval(() => this.extend(), Math.max(250, Math.floor((this.visibilitySeconds * 1000) / 3)));
    this.heartbeat.unref();
    this.loop = this.run(handler).catch((err: Error) => this.opts.logger?.error({ err }, `SQS consumer stopped: ${err.message}`));
  }

  /** The dead-letter queue; a consumer without one would retry a poison message forever, so it refuses to start. */
  private resolveDeadLetter(): Promise<DeadLetter> {
    this.deadLetter ??= (async () => {
      if (this.cfg.dlqUrl) return { url: this.cfg.dlqUrl, explicit: true, attempts: this.q.attempts };
      const policy = await redrivePolicy(this.client, this.cfg.queueUrl);
      if (!policy) {
        throw new Error(
          `SQS queue ${this.cfg.queueUrl} has no dead-letter queue: set SQS_DLQ_URL, or give the queue a redrive policy (maxReceiveCount = JOB_ATTEMPTS = ${this.q.attempts})`,
        );
      }
      if (policy.maxReceiveCount !== this.q.attempts) {
        this.opts.logger?.warn(
          `SQS redrive policy: maxReceiveCount is ${policy.maxReceiveCount}, JOB_ATTEMPTS is ${this.q.attempts}; SQS moves a message to the dead-letter queue after ${policy.maxReceiveCount} receives`,
        );
      }
      return { url: policy.dlqUrl, explicit: false, attempts: policy.maxReceiveCount };
    })();
    this.deadLetter.catch(() => (this.deadLetter = undefined)); // a later call tries again
    return this.deadLetter;
  }

  private async run(handler: GroupHandler): Promise<void> {
    // One group is gathered while the previous one is applied.
    let next = this.gather();
    for (;;) {
      const group = await next;
      if (this.closing) {
        await this.release([...group, ...this.carry.splice(0)]);
        return;
      }
      next = this.gather();
      if (group.length === 0) continue;
      this.applying = this.applyGroup(handler, group);
      await this.applying;
      this.applying = undefined;
    }
  }

  /**
   * Up to flushMaxEvents events: carried-over messages, a long poll, then short polls while full
   * answers come — and, while the previous group is still being applied, while anything comes, so the
   * next transaction takes what arrived meanwhile.
   */
  private async gather(): Promise<Received[]> {
    const max = this.opts.flushMaxEvents;
    const group: Received[] = [];
    let events = 0;
    while (this.carry.length > 0 && (group.length === 0 || events + this.carry[0]!.events <= max)) {
      const m = this.carry.shift()!;
      group.push(m);
      events += m.events;
    }
    let wait = group.length === 0 ? this.cfg.waitTimeSeconds : 0;
    while (!this.closing && events < max && this.carry.length === 0) {
      let received: Received[];
      try {
        received = await this.receive(wait);
      } catch (err) {
        this.opts.logger?.error({ err }, `SQS ReceiveMessage failed: ${(err as Error).message}`);
        await sleep(1000);
        break;
      }
      for (const m of received) {
        if (group.length > 0 && events + m.events > max) this.carry.push(m);
        else {
          group.push(m);
          events += m.events;
        }
      }
      wait = 0;
      if (received.length === 10) continue;
      // The queue has nothing more right now.
      if (!this.applying || group.length === 0) break;
      await Promise.race([sleep(50), this.applying]);
    }
    return group;
  }

  private async receive(waitSeconds: number): Promise<Received[]> {
    const res = await this.client.send(
      new ReceiveMessageCommand({
        QueueUrl: this.cfg.queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: waitSeconds,
        VisibilityTimeout: this.visibilitySeconds,
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      }),
    );
    return (res.Messages ?? []).map((m) => {
      const body = m.Body ?? '';
      const data = safeParse(body);
      const received: Received = {
        id: m.MessageId!,
        receiptHandle: m.ReceiptHandle!,
        body,
        data,
        receiveCount: Math.max(1, Number(m.Attributes?.ApproximateReceiveCount ?? 1)),
        events: eventCount(data),
      };
      this.held.set(received.receiptHandle, received);
      return received;
    });
  }

  private async applyGroup(handler: GroupHandler, group: Received[]): Promise<void> {
    const dead = await this.resolveDeadLetter();
    const jobs: ClaimedJob[] = group.map((m) => ({
      id: m.id,
      data: m.data,
      attemptsMade: m.receiveCount - 1,
      maxAttempts: dead.attempts,
      retryDelayMs: backoffSeconds(this.q.backoffMs, m.receiveCount) * 1000,
    }));
    let results: (Error | null)[];
    try {
      results = await handler(jobs);
    } catch (err) {
      results = jobs.map(() => (err instanceof Error ? err : new Error(String(err))));
    }
    // No extension may land after the changes below.
    for (const m of group) this.held.delete(m.receiptHandle);
    await this.beat;

    const done: Received[] = [];
    const retry: { receiptHandle: string; seconds: number }[] = [];
    const failed: { m: Received; err: Error }[] = [];
    group.forEach((m, i) => {
      const err = results[i];
      if (!err) done.push(m);
      else if (m.receiveCount >= dead.attempts) failed.push({ m, err });
      else retry.push({ receiptHandle: m.receiptHandle, seconds: backoffSeconds(this.q.backoffMs, m.receiveCount) });
    });
    await Promise.all([
      // Applied: the store committed, so the messages may go. One not deleted comes back and counts once anyway.
      deleteAll(this.client, this.cfg.queueUrl, done.map((m) => m.receiptHandle)).then((left) => {
        this.completed += done.length - left.length;
      }),
      retry.length > 0 ? changeVisibility(this.client, this.cfg.queueUrl, retry) : undefined,
      failed.length > 0 ? this.moveToDeadLetter(dead, failed) : undefined,
    ]);
  }

  private async moveToDeadLetter(dead: DeadLetter, failed: { m: Received; err: Error }[]): Promise<void> {
    if (!dead.explicit) {
      // Visible again at once: the next receive exceeds maxReceiveCount and SQS moves it to the dead-letter queue.
      await changeVisibility(this.client, this.cfg.queueUrl, failed.map(({ m }) => ({ receiptHandle: m.receiptHandle, seconds: 0 })));
      return;
    }
    const messages: OutgoingMessage[] = failed.map(({ m, err }) => {
      const withReason: OutgoingMessage = {
        body: m.body,
        attributes: {
          failed_reason: { DataType: 'String', StringValue: err.message.slice(0, 1000) || 'error' },
          attempts: { DataType: 'Number', StringValue: String(m.receiveCount) },
        },
        dedupId: `${m.id}-${m.receiveCount}`,
      };
      // The reason travels along when it fits; the payload always does.
      return messageSize(withReason) <= MAX_MESSAGE_BYTES ? withReason : { body: m.body, dedupId: withReason.dedupId };
    });
    try {
      await sendAll(this.client, dead.url, messages);
    } catch (err) {
      // Not in the dead-letter queue: leave it in the queue to be tried (and moved) again later.
      this.opts.logger?.error({ err }, `Could not move ${failed.length} failed message(s) to the dead-letter queue: ${(err as Error).message}`);
      await changeVisibility(
        this.client,
        this.cfg.queueUrl,
        failed.map(({ m }) => ({ receiptHandle: m.receiptHandle, seconds: backoffSeconds(this.q.backoffMs, m.receiveCount) })),
      );
      return;
    }
    await deleteAll(this.client, this.cfg.queueUrl, failed.map(({ m }) => m.receiptHandle));
  }

  /** Keeps every held message invisible for another visibility window. */
  private extend(): void {
    if (this.beat || this.held.size === 0) return;
    const items = [...this.held.keys()].map((receiptHandle) => ({ receiptHandle, seconds: this.visibilitySeconds }));
    this.beat = changeVisibility(this.client, this.cfg.queueUrl, items).finally(() => (this.beat = undefined));
  }

  /** Makes messages visible again now (taken but not applied, e.g. at shutdown). */
  private async release(messages: Received[]): Promise<void> {
    if (messages.length === 0) return;
    for (const m of messages) this.held.delete(m.receiptHandle);
    await this.beat;
    await changeVisibility(this.client, this.cfg.queueUrl, messages.map((m) => ({ receiptHandle: m.receiptHandle, seconds: 0 })));
  }

  async counts(): Promise<QueueCounts> {
    const dead = await this.resolveDeadLetter();
    const [main, dlq] = await Promise.all([queueDepth(this.client, this.cfg.queueUrl), queueDepth(this.client, dead.url)]);
    // Messages waiting for their backoff are invisible in SQS, so they count as active, not delayed.
    return { waiting: main.visible, active: main.notVisible, delayed: main.delayed, completed: this.completed, failed: dlq.visible + dlq.notVisible };
  }

  /** Moves every message of the dead-letter queue back to the queue (fresh receive counts); returns how many. */
  async retryFailed(): Promise<number> {
    const dead = await this.resolveDeadLetter();
    let moved = 0;
    for (;;) {
      // A short long-poll: SQS's short polls may answer empty while messages remain.
      const res = await this.client.send(
        new ReceiveMessageCommand({ QueueUrl: dead.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60 }),
      );
      const messages = res.Messages ?? [];
      if (messages.length === 0) return moved;
      await sendAll(this.client, this.cfg.queueUrl, messages.map((m) => ({ body: m.Body ?? '', dedupId: `${m.MessageId}-${uuidv7()}` })));
      // Sent before deleted: a message whose delete fails is queued twice, and counts once.
      await deleteAll(this.client, dead.url, messages.map((m) => m.ReceiptHandle!));
      moved += messages.length;
    }
  }

  async close(timeoutMs: number): Promise<void> {
    this.closing = true;
    // The group being applied stays invisible (the heartbeat goes on) until it is finished; past
    // the deadline, what is unfinished reappears when its visibility ends.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.loop, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    clearInterval(this.heartbeat);
    await this.beat;
    this.client.destroy();
  }
}

/** The backoff in whole seconds (SQS's unit), at least 1. */
function backoffSeconds(baseMs: number, attemptsMade: number): number {
  return Math.min(43_200, Math.max(1, Math.ceil(backoffDelay(baseMs, attemptsMade) / 1000)));
}

function safeParse(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return body; // the worker rejects it as an invalid payload
  }
}
