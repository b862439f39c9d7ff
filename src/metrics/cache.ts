// A value read from a backend at most once per `ttlMs`, however often it is asked for: concurrent
// askers share one read in flight, and a failed read is not kept.
export class CachedRead<T> {
  private value: { at: number; data: T } | undefined;
  private inFlight: Promise<T> | undefined;

  constructor(
    private read: () => Promise<T>,
    private ttlMs: number,
    private now: () => number = Date.now,
  ) {}

  get(): Promise<T> {
    if (this.value && this.now() - this.value.at < this.ttlMs) return Promise.resolve(this.value.data);
    this.inFlight ??= this.read().then(
      (data) => {
        this.value = { at: this.now(), data };
        this.inFlight = undefined;
        return data;
      },
      (err: unknown) => {
        this.inFlight = undefined;
        throw err;
      },
    );
    return this.inFlight;
  }
}

/** Rejects with `timeout` after `ms` (the work itself goes on, and its result is dropped). */
export function withTimeout<T>(p: Promise<T>, ms: number, what = 'timeout'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
