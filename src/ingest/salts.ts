// The daily salts as the API holds them: read from the store at start and every few minutes, and
// created in the store (insert-if-absent, so every API server ends up with the same one) the first
// time a date needs one. A lookup on the request path is a Map read.
import { newSaltValue, oldestSaltDay, type Salt } from '../core/salt.js';
import type { SaltStore } from '../store/port.js';

export class SaltCache {
  private salts = new Map<string, string>();
  private pending = new Map<string, Promise<string>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private store: SaltStore,
    private now: () => number = Date.now,
  ) {}

  async load(): Promise<void> {
    const fresh = new Map<string, string>();
    for (const s of await this.store.listSalts()) fresh.set(s.day, s.salt);
    this.salts = fresh;
  }

  /** Reloads every `intervalMs` (salts deleted by the maintenance disappear); failures keep the last copy. */
  startRefresh(intervalMs: number, onError: (err: unknown) => void): void {
    this.timer = setInterval(() => this.load().catch(onError), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  get(day: string): string | undefined {
    return this.salts.get(day);
  }

  /** The salt of `day`, created in the store when no process made it yet. */
  ensure(day: string): Promise<string> {
    const known = this.salts.get(day);
    if (known) return Promise.resolve(known);
    let p = this.pending.get(day);
    if (!p) {
      p = this.store
        .ensureSalt(day, newSaltValue(), this.now())
        .then((salt) => {
          if (day >= oldestSaltDay(this.now())) this.salts.set(day, salt);
          return salt;
        })
        .finally(() => this.pending.delete(day));
      this.pending.set(day, p);
    }
    return p;
  }

  list(): Salt[] {
    return [...this.salts].map(([day, salt]) => ({ day, salt }));
  }
}
