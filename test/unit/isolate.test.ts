// Issue 9, item 2 (worker side): the bisection that finds the bad events of a refused batch.
// The stores' own refusals are tested for real in test/event-isolation.test.ts; here the search
// itself, with an in-memory "store" that refuses what a rule says.
import { describe, expect, it } from 'vitest';
import { applyIsolatingBadEvents } from '../../src/worker/isolate.js';

class DataError extends Error {}

function fakeStore(isBad: (n: number) => boolean, opts: { down?: boolean; flaky?: Set<number> } = {}) {
  const applied: number[] = [];
  let calls = 0;
  return {
    applied,
    calls: () => calls,
    options: {
      apply: async (part: number[]) => {
        calls++;
        if (opts.down) throw new Error('connect ECONNREFUSED');
        const flaky = part.find((n) => opts.flaky?.delete(n));
        if (flaky !== undefined) throw new DataError(`hiccup on ${flaky}`);
        const bad = part.find(isBad);
        if (bad !== undefined) throw new DataError(`refused ${bad}`);
        applied.push(...part);
        return { applied: part.length, duplicates: 0 };
      },
      ping: async () => {
        if (opts.down) throw new Error('connect ECONNREFUSED');
      },
      isDataError: (err: unknown) => err instanceof DataError,
    },
  };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('applyIsolatingBadEvents', () => {
  it('applies every good event and sets aside only the bad ones', async () => {
    const s = fakeStore((n) => n === 137 || n === 400);
    const r = await applyIsolatingBadEvents(range(500), s.options);
    expect(r.bad.map((b) => b.event)).toEqual([137, 400]);
    expect(r.bad[0]!.error.message).toBe('refused 137');
    expect(r.failure).toBeUndefined();
    expect(r.applied).toBe(498);
    expect(s.applied.sort((a, b) => a - b)).toEqual(range(500).filter((n) => n !== 137 && n !== 400));
    // A search, not one try per event: about 2 log2(n) tries per bad event.
    expect(s.calls()).toBeLessThan(60);
  });

  it('sets aside nothing while the store is down', async () => {
    const s = fakeStore(() => false, { down: true });
    const r = await applyIsolatingBadEvents(range(100), s.options);
    expect(r.bad).toEqual([]);
    expect(r.failure?.message).toBe('connect ECONNREFUSED');
    expect(s.calls()).toBe(1);
  });

  it('retries a failing event once before calling it bad', async () => {
    const s = fakeStore(() => false, { flaky: new Set([7]) });
    const r = await applyIsolatingBadEvents(range(10), s.options);
    expect(r.bad).toEqual([]);
    expect(r.applied).toBe(10);
  });

  it('stops at a failure that is not about the data, keeping what it applied', async () => {
    const s = fakeStore(() => false);
    const options = {
      ...s.options,
      apply: async (part: number[]) => {
        if (part.includes(3)) throw new Error('relation "daily_paths" does not exist');
        return s.options.apply(part);
      },
    };
    const r = await applyIsolatingBadEvents(range(8), options);
    expect(r.bad).toEqual([]);
    expect(r.failure?.message).toMatch(/does not exist/);
    expect(s.applied).toEqual([0, 1, 2]);
  });
});
