// Measuring helpers for `npm run bench`: load generation, latency percentiles, peak memory.
import autocannon from 'autocannon';
import fs from 'node:fs';

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  requests: number;
  /** 2xx answers. */
  ok: number;
}

export interface LoadRequest {
  path: string;
  body: string;
  headers: Record<string, string>;
}

/** One autocannon run, 50 connections by default; each connection cycles through `requests`. */
export async function load(url: string, opts: { requests: LoadRequest[]; connections?: number; seconds: number }): Promise<LoadResult> {
  const base = {
    url,
    connections: opts.connections ?? 50,
    requests: opts.requests.map((r) => ({ method: 'POST' as const, ...r })),
  };
  const r = await autocannon({ ...base, duration: opts.seconds });
  return {
    rps: Math.round(r.requests.average),
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
    requests: r.requests.total,
    ok: r['2xx'],
  };
}

/** Peak resident memory of a live process (VmHWM), in MB. */
export function peakRssMb(pid: number): number | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmHWM:\s+(\d+) kB/.exec(status);
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)]!;
}

/** Sequential timings of `fn` after a warm-up; returns p50/p99 in ms. */
export async function timings(fn: () => Promise<void>, runs: number, warmup: number): Promise<{ p50: number; p99: number; runs: number }> {
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    samples.push(performance.now() - t);
  }
  samples.sort((a, b) => a - b);
  return { p50: round(percentile(samples, 50)), p99: round(percentile(samples, 99)), runs };
}

export const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
export const ratio = (a: number, b: number) => (b > 0 ? round(a / b) : NaN);
