// A local SQS for the tests: fauxqs (an SQS emulator on npm) started in the test process on a free
// port. The adapter reaches it through AWS_ENDPOINT_URL_SQS with static test credentials.
import { startFauxqs, type FauxqsServer } from 'fauxqs';
import type { SqsConfig } from '../../src/config.js';
import { MAX_MESSAGE_BYTES } from '../../src/queue/sqs-messages.js';
import { uniqueName } from './services.js';

/** Credentials for the emulator, so the SDK never looks further along its provider chain. */
export const TEST_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };
export const REGION = 'us-east-1';

export interface TestQueue {
  name: string;
  url: string;
  arn: string;
  dlqName: string;
  dlqUrl: string;
}

export interface QueueSpec {
  /** 'explicit': the adapter moves failed messages (SQS_DLQ_URL); 'redrive': the queue's redrive policy does. */
  deadLetter?: 'explicit' | 'redrive';
  /** maxReceiveCount of the redrive policy. */
  maxReceiveCount?: number;
  fifo?: boolean;
  /** Default: 256 KiB, as AWS queues created before 2025 have (fauxqs otherwise allows 1 MiB). */
  maximumMessageSize?: number;
}

export class SqsEmulator {
  private constructor(readonly server: FauxqsServer) {}

  static async start(): Promise<SqsEmulator> {
    return new SqsEmulator(await startFauxqs({ port: 0, logger: false, host: 'localhost', defaultRegion: REGION }));
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.server.port}`;
  }

  /** A queue and its dead-letter queue, with unique names. */
  createQueue(spec: QueueSpec = {}): TestQueue {
    const suffix = spec.fifo ? '.fifo' : '';
    const base = uniqueName('q').replace(/[^a-zA-Z0-9_-]/g, '_');
    const fifoAttrs: Record<string, string> = spec.fifo ? { FifoQueue: 'true' } : {};
    const dlq = this.server.createQueue(`${base}-dlq${suffix}`, { attributes: { ...fifoAttrs } });
    const attributes: Record<string, string> = {
      ...fifoAttrs,
      MaximumMessageSize: String(spec.maximumMessageSize ?? MAX_MESSAGE_BYTES),
      ...(spec.deadLetter === 'redrive'
        ? { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.queueArn, maxReceiveCount: spec.maxReceiveCount ?? 5 }) }
        : {}),
    };
    const q = this.server.createQueue(`${base}${suffix}`, { attributes });
    return { name: q.queueName, url: q.queueUrl, arn: q.queueArn, dlqName: dlq.queueName, dlqUrl: dlq.queueUrl };
  }

  /** The adapter's configuration for a queue. */
  config(q: TestQueue, spec: QueueSpec = {}, waitTimeSeconds = 1): SqsConfig {
    return { queueUrl: q.url, dlqUrl: spec.deadLetter === 'redrive' ? undefined : q.dlqUrl, region: REGION, endpoint: this.endpoint, waitTimeSeconds };
  }

  /** The environment of the API and worker processes for a queue. */
  env(q: TestQueue, spec: QueueSpec = {}, waitTimeSeconds = 2): Record<string, string> {
    return {
      USE_SQS: 'true',
      SQS_QUEUE_URL: q.url,
      ...(spec.deadLetter === 'redrive' ? {} : { SQS_DLQ_URL: q.dlqUrl }),
      AWS_REGION: REGION,
      AWS_ENDPOINT_URL_SQS: this.endpoint,
      SQS_WAIT_TIME_SECONDS: String(waitTimeSeconds),
      AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
      // Never ask an instance metadata service for credentials.
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
  }

  /** Messages of a queue by state, read without receiving them. */
  inspect(name: string) {
    const q = this.server.inspectQueue(name);
    if (!q) throw new Error(`no queue ${name}`);
    return q.messages;
  }

  async stop(): Promise<void> {
    await this.server.stop();
  }
}
