// What every part of `npm run bench` returns, and the sizes it runs at (full or `--smoke`).
export interface Target {
  what: string;
  met: boolean;
  value: string;
}

export interface PartResult {
  name: string;
  /** Numbers only: the JSON report and the smoke test read them. */
  figures: Record<string, number>;
  /** What the table prints, baselines first ("baseline …"). */
  lines: string[];
  targets: Target[];
}

export type Log = (msg: string) => void;

export const target = (what: string, met: boolean, value: string | number): Target => ({ what, met, value: String(value) });

export interface Sizes {
  ingestSeconds: number;
  warmupSeconds: number;
  /** Events pre-queued for each drain. */
  drainEvents: number;
  /** The read dataset's day: events, visitors, paths, referrers, countries; and days of rollups. */
  dayEvents: number;
  visitors: number;
  paths: number;
  referrers: number;
  countries: number;
  rangeDays: number;
  /** Sequential requests per timed read (p99 needs at least 100). */
  readRuns: number;
  /** Time-to-numbers loads of the dashboard. */
  dashboardLoads: number;
}

export const FULL: Sizes = {
  ingestSeconds: 10,
  warmupSeconds: 3,
  drainEvents: 1_000_000,
  dayEvents: 1_000_000,
  visitors: 100_000,
  paths: 10_000,
  referrers: 1_000,
  countries: 200,
  rangeDays: 30,
  readRuns: 200,
  dashboardLoads: 20,
};

export const SMOKE: Sizes = {
  ingestSeconds: 1,
  warmupSeconds: 1,
  drainEvents: 3_000,
  dayEvents: 3_000,
  visitors: 300,
  paths: 100,
  referrers: 30,
  countries: 20,
  rangeDays: 30,
  readRuns: 10,
  dashboardLoads: 2,
};
