import { describe, expect, it } from 'vitest';
import { Pairs, SnapshotCache, memberSnapshot, unionCount } from '../../src/store/sql/snapshots.js';

const ids = (...xs: number[]) => Uint32Array.from(xs).sort();

describe('range snapshots', () => {
  it('counts distinct ids across sets, chunks and far-apart ids', () => {
    expect(unionCount([])).toBe(0);
    expect(unionCount([ids(1, 2, 3), ids(3, 4), ids()])).toBe(4);
    expect(unionCount([ids(0, 65535, 65536, 4_294_967_295), ids(65536, 300_000_000)])).toBe(5);
    const a = Uint32Array.from({ length: 100_000 }, (_, i) => i * 3);
    const b = Uint32Array.from({ length: 100_000 }, (_, i) => i * 2);
    // multiples of 2 or 3 below 300,000 (a) ∪ below 200,000 (b): |a| + |b| - |multiples of 6 below 200,000|
    expect(unionCount([a, b])).toBe(100_000 + 100_000 - Math.ceil(200_000 / 6));
  });

  it('groups members by value with sorted visitor ids, each once, past the buffer\'s first size', () => {
    const pairs = new Pairs();
    for (const [v, u] of [[7, 70_000], [1, 5], [7, 2], [1, 4], [7, 2]]) pairs.push(v!, u!);
    for (let i = 0; i < 1000; i++) pairs.push(2 ** 40, 1000 - (i % 500)); // a value id past 32 bits
    const s = memberSnapshot(3, pairs);
    expect(s.revision).toBe(3);
    expect([...s.byValue.get(7)!]).toEqual([2, 70_000]);
    expect([...s.byValue.get(1)!]).toEqual([4, 5]);
    expect([...s.byValue.get(2 ** 40)!]).toEqual(Array.from({ length: 500 }, (_, i) => 501 + i));
    expect(memberSnapshot(4, undefined).byValue.size).toBe(0);
  });

  it('bounds the cache by bytes, dropping the least recently used', () => {
    const cache = new SnapshotCache(10_000);
    const entry = (n: number) => ({ kind: 'counters' as const, value: { revision: 1, values: new Float64Array(n), counts: new Float64Array(0) } });
    cache.set('a', entry(500));
    cache.set('b', entry(500));
    cache.get('a');
    cache.set('c', entry(500)); // 3 × 4 KB > 10 KB: b, the least recently used, goes
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBeDefined();
    expect(cache.get('c')).toBeDefined();
  });
});
