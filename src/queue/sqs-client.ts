// The SQS client and the batch calls the adapter makes, each within SQS's per-request limits.
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  SendMessageBatchCommand,
  SQSClient,
  type MessageAttributeValue,
  type SendMessageBatchRequestEntry,
  type SQSClientConfig,
} from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import type { SqsConfig } from '../config.js';
import { byteLength, chunks, MAX_MESSAGE_BYTES, packBatches } from './sqs-messages.js';

/**
 * Region and endpoint from the configuration; credentials from the SDK's default provider chain.
 * With an explicit endpoint the SDK sends every call there (not to the host named in the queue URL).
 * `longPollSeconds` sizes the socket timeout above the longest ReceiveMessage wait.
 */
export function createSqsClient(cfg: SqsConfig, longPollSeconds: number, overrides: Partial<SQSClientConfig> = {}): SQSClient {
  return new SQSClient({
    region: cfg.region,
    ...(cfg.endpoint ? { endpoint: cfg.endpoint } : {}),
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 3000, requestTimeout: (longPollSeconds + 10) * 1000 },
    ...overrides,
  });
}

export const isFifo = (queueUrl: string) => queueUrl.endsWith('.fifo');

export interface OutgoingMessage {
  body: string;
  attributes?: Record<string, MessageAttributeValue>;
  /** FIFO queues: a stable id, so a request the SDK resends is stored once (5-minute window). */
  dedupId?: string;
}

/** The size SQS counts for a message: body plus each attribute's name, type and value. */
export function messageSize(m: OutgoingMessage): number {
  let n = byteLength(m.body);
  for (const [name, a] of Object.entries(m.attributes ?? {})) n += byteLength(name) + byteLength(a.DataType ?? '') + byteLength(a.StringValue ?? '');
  return n;
}

export class SqsSendError extends Error {}

/**
 * Sends messages with SendMessageBatch (10 entries and 256 KiB per request, requests in parallel).
 * Resolves only when every message was accepted: entries that failed on SQS's side are sent again
 * (up to `rounds` times); an entry refused as the sender's fault, or still failing, fails the call.
 */
export async function sendAll(client: SQSClient, queueUrl: string, messages: OutgoingMessage[], rounds = 3): Promise<void> {
  for (const m of messages) {
    if (messageSize(m) > MAX_MESSAGE_BYTES) throw new SqsSendError(`a message of ${messageSize(m)} bytes exceeds ${MAX_MESSAGE_BYTES}`);
  }
  const fifo = isFifo(queueUrl);
  await Promise.all(
    packBatches(messages, messageSize).map(async (batch) => {
      let entries: SendMessageBatchRequestEntry[] = batch.map((m, i) => ({
        Id: String(i),
        MessageBody: m.body,
        ...(m.attributes ? { MessageAttributes: m.attributes } : {}),
        // A group per message: FIFO order is not needed (applying is order-free), parallelism is.
        ...(fifo ? { MessageGroupId: randomUUID(), MessageDeduplicationId: m.dedupId ?? randomUUID() } : {}),
      }));
      for (let round = 1; ; round++) {
        const res = await client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
        const failed = res.Failed ?? [];
        if (failed.length === 0) return;
        const fatal = failed.find((f) => f.SenderFault);
        if (fatal || round >= rounds) {
          const f = fatal ?? failed[0]!;
          throw new SqsSendError(`SendMessageBatch: ${failed.length} of ${entries.length} messages refused (${f.Code}: ${f.Message})`);
        }
        const retry = new Set(failed.map((f) => f.Id));
        entries = entries.filter((e) => retry.has(e.Id));
        await new Promise((r) => setTimeout(r, 50 * round));
      }
    }),
  );
}

/** Deletes by receipt handle; returns the handles SQS did not delete (they come back and apply again, idempotently). */
export async function deleteAll(client: SQSClient, queueUrl: string, receiptHandles: string[]): Promise<string[]> {
  const left: string[] = [];
  await Promise.all(
    chunks(receiptHandles).map(async (part) => {
      try {
        const res = await client.send(
          new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: part.map((h, i) => ({ Id: String(i), ReceiptHandle: h })) }),
        );
        for (const f of res.Failed ?? []) left.push(part[Number(f.Id)]!);
      } catch {
        left.push(...part);
      }
    }),
  );
  return left;
}

/** Sets the visibility timeout of received messages (seconds, 0 = visible again now). Best effort. */
export async function changeVisibility(client: SQSClient, queueUrl: string, items: { receiptHandle: string; seconds: number }[]): Promise<number> {
  let failed = 0;
  await Promise.all(
    chunks(items).map(async (part) => {
      try {
        const res = await client.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: queueUrl,
            Entries: part.map((it, i) => ({ Id: String(i), ReceiptHandle: it.receiptHandle, VisibilityTimeout: it.seconds })),
          }),
        );
        failed += res.Failed?.length ?? 0;
      } catch {
        failed += part.length;
      }
    }),
  );
  return failed;
}

export interface QueueDepth {
  visible: number;
  notVisible: number;
  delayed: number;
}

export async function queueDepth(client: SQSClient, queueUrl: string): Promise<QueueDepth> {
  const res = await client.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
    }),
  );
  const a = res.Attributes ?? {};
  return {
    visible: Number(a.ApproximateNumberOfMessages ?? 0),
    notVisible: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
    delayed: Number(a.ApproximateNumberOfMessagesDelayed ?? 0),
  };
}

export interface RedrivePolicy {
  dlqUrl: string;
  maxReceiveCount: number;
}

/** The queue's redrive policy, with the dead-letter queue's URL looked up from its ARN; undefined when none. */
export async function redrivePolicy(client: SQSClient, queueUrl: string): Promise<RedrivePolicy | undefined> {
  const res = await client.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['RedrivePolicy'] }));
  const raw = res.Attributes?.RedrivePolicy;
  if (!raw) return undefined;
  const policy = JSON.parse(raw) as { deadLetterTargetArn?: string; maxReceiveCount?: number | string };
  // arn:aws:sqs:<region>:<account>:<name>
  const [, , , , account, name] = (policy.deadLetterTargetArn ?? '').split(':');
  if (!account || !name) return undefined;
  const url = await client.send(new GetQueueUrlCommand({ QueueName: name, QueueOwnerAWSAccountId: account }));
  if (!url.QueueUrl) return undefined;
  return { dlqUrl: url.QueueUrl, maxReceiveCount: Number(policy.maxReceiveCount) };
}
