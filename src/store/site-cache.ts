// Sites held in memory, so ingestion authenticates without touching the database.
// Loaded at start, refreshed periodically, and told at once about sites created elsewhere.
import type { Site } from '../core/site.js';
import type { AnalyticsStore } from './port.js';

export class SiteCache {
  private byId = new Map<string, Site>();
  private byApiKey = new Map<string, Site>();
  private byReadKey = new Map<string, Site>();
  private timer: NodeJS.Timeout | undefined;
  private misses = new Map<string, number>();

  constructor(private store: AnalyticsStore) {}

  async load(): Promise<void> {
    const sites = await this.store.listSites();
    const fresh = new SiteCache(this.store);
    sites.forEach((s) => fresh.add(s));
    this.byId = fresh.byId;
    this.byApiKey = fresh.byApiKey;
    this.byReadKey = fresh.byReadKey;
  }

  /** Reloads every `intervalMs`; failures keep the last good copy. */
  startRefresh(intervalMs: number, onError: (err: unknown) => void): void {
    this.timer = setInterval(() => this.load().catch(onError), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  add(site: Site): void {
    this.byId.set(site.site_id, site);
    this.byApiKey.set(site.api_key_hash, site);
    this.byReadKey.set(site.read_key_hash, site);
  }

  get(siteId: string): Site | undefined {
    return this.byId.get(siteId);
  }

  byApiKeyHash(hash: string): Site | undefined {
    return this.byApiKey.get(hash);
  }

  byReadKeyHash(hash: string): Site | undefined {
    return this.byReadKey.get(hash);
  }

  /**
   * For the worker (which may read the database): a site not in memory is looked up in the
   * store, at most once every 5 s per id.
   */
  async fetch(siteId: string): Promise<Site | undefined> {
    const known = this.byId.get(siteId);
    if (known) return known;
    const lastMiss = this.misses.get(siteId) ?? 0;
    if (Date.now() - lastMiss < 5000) return undefined;
    const site = await this.store.getSite(siteId);
    if (site) this.add(site);
    else {
      // Keyed by ids from queued events: bounded, whatever the queue holds.
      if (this.misses.size >= 10_000) this.misses.clear();
      this.misses.set(siteId, Date.now());
    }
    return site;
  }

  /** Reads one site from the store into memory (a peer created it). */
  async refreshSite(siteId: string): Promise<void> {
    const site = await this.store.getSite(siteId);
    if (site) this.add(site);
  }
}
