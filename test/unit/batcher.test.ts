// The group-commit batcher against a scripted queue: its batching and failure rules.
import { describe, expect, it } from 'vitest';
import { newEventId, type QueuedEvent } from '../../src/core/event.js';
import { EnqueueBatcher } from '../../src/queue/batcher.js';
import { QueueUnavailableError, type EventQueue } from '../../src/queue/port.js';

class ScriptedQueue implements EventQueue {
  readonly kind = 'embedded' as const;
  batches: QueuedEvent[][] = [];
  deadlines: (number | undefined)[] = [];
  pending: { resolve: () => void; reject: (e: Error) => void }[] = [];
  auto = true;
  async enqueue(events: QueuedEvent[], opts?: { deadline?: number }): Promise<void> {
    this.batches.push(events);
    this.deadlines.push(opts?.deadline);
    if (this.auto) return;
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  }
  async ping() {}
  async close() {}
}

const ev = (n: number): QueuedEvent => ({ id: newEventId(), site_id: 's', type: 'pageview', path: `/${n}`, visitor: 'u:u', ts: n, received_at: n });

describe('EnqueueBatcher', () => {
  it('puts events that arrive together into one job', async () => {
    const q = new ScriptedQueue();
    const b = new EnqueueBatcher(q, { maxBatch: 100, timeoutMs: 1000 });
    await Promise.all([1, 2, 3].map((n) => b.add(ev(n))));
    expect(q.batches.map((x) => x.length)).toEqual([3]);
  });

  it('gathers events that arrive while a write is in flight into the next job', async () => {
    const q = new ScriptedQueue();
    q.auto = false;
    const b = new EnqueueBatcher(q, { maxBatch: 100, timeoutMs: 1000 });
    const first = b.add(ev(1));
    await new Promise((r) => setImmediate(r));
    const later = [2, 3, 4].map((n) => b.add(ev(n)));
    await new Promise((r) => setImmediate(r));
    expect(q.batches.map((x) => x.length)).toEqual([1]);
    q.pending.shift()!.resolve();
    await first;
    await new Promise((r) => setTimeout(r, 10));
    expect(q.batches.map((x) => x.length)).toEqual([1, 3]);
    q.pending.shift()!.resolve();
    await Promise.all(later);
  });

  it('never puts more than maxBatch events in one job', async () => {
    const q = new ScriptedQueue();
    const b = new EnqueueBatcher(q, { maxBatch: 4, timeoutMs: 1000 });
    await Promise.all(Array.from({ length: 10 }, (_, i) => b.add(ev(i))));
    expect(q.batches.every((x) => x.length <= 4)).toBe(true);
    expect(q.batches.flat().map((e) => e.ts).sort((a, c) => a - c)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('fails every request of a batch the queue refused', async () => {
    const q = new ScriptedQueue();
    q.auto = false;
    const b = new EnqueueBatcher(q, { maxBatch: 100, timeoutMs: 1000 });
    const adds = [1, 2].map((n) => b.add(ev(n)));
    await new Promise((r) => setImmediate(r));
    q.pending.shift()!.reject(new Error('READONLY'));
    for (const a of adds) await expect(a).rejects.toBeInstanceOf(QueueUnavailableError);
    // The batcher keeps working afterwards.
    q.auto = true;
    await expect(b.add(ev(3))).resolves.toBeUndefined();
  });

  it('answers within the timeout when the queue hangs', async () => {
    const q = new ScriptedQueue();
    q.auto = false;
    const b = new EnqueueBatcher(q, { maxBatch: 100, timeoutMs: 50 });
    const started = Date.now();
    await expect(b.add(ev(1))).rejects.toThrow(/no answer in 50 ms/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('keeps the events of one request in one job, and never splits them across jobs', async () => {
    const q = new ScriptedQueue();
    const b = new EnqueueBatcher(q, { maxBatch: 5, timeoutMs: 1000 });
    await Promise.all([b.addAll([ev(1), ev(2), ev(3)]), b.addAll([ev(4), ev(5), ev(6)]), b.add(ev(7)), b.addAll(Array.from({ length: 8 }, (_, i) => ev(10 + i)))]);
    expect(q.batches.map((x) => x.map((e) => e.ts))).toEqual([[1, 2, 3], [4, 5, 6, 7], [10, 11, 12, 13, 14, 15, 16, 17]]);
  });

  it('counts each request\'s budget from its arrival: one that spent it waiting for a write slot is refused unwritten', async () => {
    const q = new ScriptedQueue();
    q.auto = false; // the queue never answers
    const b = new EnqueueBatcher(q, { maxBatch: 1, timeoutMs: 200, maxInFlight: 1 });
    const before = Date.now();
    const adds = [1, 2, 3].map((n) => b.add(ev(n)));
    await Promise.all(adds.map((a) => expect(a).rejects.toThrow(/no answer in 200 ms/)));
    // Only the first got a write; the adapter was told when its caller stops waiting.
    expect(q.batches).toHaveLength(1);
    expect(q.deadlines[0]).toBeGreaterThanOrEqual(before + 200);
    expect(q.deadlines[0]).toBeLessThanOrEqual(Date.now());
  });
});
