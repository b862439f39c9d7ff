// Exact answers over many buckets (the last 24 hours, date ranges) without re-reading every rollup
// row each time: per (bucket, dimension, scope), the counter rows and the visitor ids of each value
// are kept in memory as compact arrays, tagged with the bucket's revision — a counter on the
// bucket's totals row that every transaction changing the bucket bumps. A snapshot whose revision
// still equals the bucket's is the bucket's exact content.

/** Counter rows of one bucket: parallel arrays by value id. */
export interface CounterSnapshot {
  revision: number;
  values: Float64Array;
  /** pageviews, events, visitors, visits, bounces, durationMs — 6 per value. */
  counts: Float64Array;
}

/** Visitor ids of one bucket, per value id (sorted ids). */
export interface MemberSnapshot {
  revision: number;
  byValue: Map<number, Uint32Array>;
  bytes: number;
}

/** Anything worked out from a period's buckets, valid while `signature` (their revisions) holds. */
export interface Memo {
  signature: string;
  value: unknown;
  bytes: number;
}

type Entry = { kind: 'counters'; value: CounterSnapshot } | { kind: 'members'; value: MemberSnapshot } | { kind: 'memo'; value: Memo };

const bytes = (e: Entry) => (e.kind === 'counters' ? e.value.values.byteLength + e.value.counts.byteLength : e.value.bytes) + 64;

/** A byte-bounded LRU of snapshots (Map iteration order is insertion order). */
export class SnapshotCache {
  private entries = new Map<string, Entry>();
  private size = 0;

  constructor(private maxBytes: number) {}

  get(key: string): Entry | undefined {
    const e = this.entries.get(key);
    if (e) {
      this.entries.delete(key);
      this.entries.set(key, e);
    }
    return e;
  }

  set(key: string, entry: Entry): void {
    const old = this.entries.get(key);
    if (old) {
      this.size -= bytes(old);
      this.entries.delete(key);
    }
    this.entries.set(key, entry);
    this.size += bytes(entry);
    for (const [k, e] of this.entries) {
      if (this.size <= this.maxBytes || this.entries.size === 1) break;
      this.entries.delete(k);
      this.size -= bytes(e);
    }
  }
}

/**
 * Distinct ids across id arrays (each sorted): a bitmap made of 65,536-bit chunks, allocated only
 * where ids fall, so the cost follows the number of ids, not their spread.
 */
export function unionCount(sets: Uint32Array[]): number {
  if (sets.length === 1) return sets[0]!.length;
  const chunks = new Map<number, Uint32Array>();
  let count = 0;
  for (const s of sets) {
    let hi = -1;
    let chunk: Uint32Array | undefined;
    for (let i = 0; i < s.length; i++) {
      const id = s[i]!;
      if (id >>> 16 !== hi) {
        hi = id >>> 16;
        chunk = chunks.get(hi);
        if (!chunk) chunks.set(hi, (chunk = new Uint32Array(2048)));
      }
      const lo = id & 0xffff;
      const mask = 1 << (lo & 31);
      if ((chunk![lo >>> 5]! & mask) === 0) {
        chunk![lo >>> 5] = chunk![lo >>> 5]! | mask;
        count++;
      }
    }
  }
  return count;
}

/** A sorted array without repeats (a visitor with several visits of one value counts once). */
function distinct(sorted: Uint32Array): Uint32Array {
  let n = 0;
  for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) sorted[n++] = sorted[i]!;
  return n === sorted.length ? sorted : sorted.slice(0, n);
}

/** A copy of a typed array in a larger one. */
export function grown<A extends Float64Array<ArrayBuffer> | Uint32Array<ArrayBuffer>>(a: A, size: number): A {
  const b = new (a.constructor as new (n: number) => A)(size);
  b.set(a);
  return b;
}

/**
 * (value, visitor) pairs of one bucket as they are read, in two growing typed arrays: a month of a
 * busy site is millions of pairs, and as millions of small arrays they kept the collector busier
 * than the reads themselves.
 */
export class Pairs {
  values = new Float64Array(64);
  visitors = new Uint32Array(64);
  length = 0;

  push(value: number, visitor: number): void {
    if (this.length === this.values.length) {
      this.values = grown(this.values, this.length * 2);
      this.visitors = grown(this.visitors, this.length * 2);
    }
    this.values[this.length] = value;
    this.visitors[this.length++] = visitor;
  }
}

/** Groups (value, visitor) pairs into sorted visitor arrays per value, each visitor once. */
export function memberSnapshot(revision: number, pairs: Pairs | undefined): MemberSnapshot {
  const byValue = new Map<number, Uint32Array>();
  if (!pairs) return { revision, byValue, bytes: 0 };
  // Counted first, so that each value's ids go straight into an array of their size.
  const counts = new Map<number, number>();
  for (let i = 0; i < pairs.length; i++) {
    const v = pairs.values[i]!;
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  const fill = new Map<number, { ids: Uint32Array; n: number }>();
  for (const [v, n] of counts) fill.set(v, { ids: new Uint32Array(n), n: 0 });
  for (let i = 0; i < pairs.length; i++) {
    const f = fill.get(pairs.values[i]!)!;
    f.ids[f.n++] = pairs.visitors[i]!;
  }
  let size = 0;
  for (const [v, f] of fill) {
    const ids = distinct(f.ids.sort());
    byValue.set(v, ids);
    size += ids.byteLength + 48;
  }
  return { revision, byValue, bytes: size };
}
