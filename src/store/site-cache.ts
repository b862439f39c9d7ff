// Sites held in memory, so ingestion authenticates without touching the database.
// Loaded at start, refreshed periodically, and told at once about sites created, changed (keys
// rotated, share link on or off) or deleted elsewhere.
import type { Site } from '../core/site.js';
import type { AnalyticsStore } from './port.js';

export class SiteCache {
  private byId = new Map<string, Site>();
  private byApiKey = new Map<string, Site>();
  private byReadKey = new Map<string, Site>();
  private byShareToken = new Map<string, Site>();
  private timer: NodeJS.Timeout | undefined;
  private misses = new Map<string, number>();
  /** Sites changed while a full load was reading: the load's older copy must not win over them. */
  private changedDuringLoad: Map<string, Site | null> | undefined;

  constructor(private store: AnalyticsStore) {}

  async load(): Promise<void> {
    this.changedDuringLoad = new Map();
    try {
      const sites = await this.store.listSites();
      const fresh = new SiteCache(this.store);
      sites.forEach((s) => fresh.index(s));
      for (const [id, site] of this.changedDuringLoad) {
        if (site) fresh.index(site);
        else fresh.unindex(id);
      }
      this.byId = fresh.byId;
      this.byApiKey = fresh.byApiKey;
      this.byReadKey = fresh.byReadKey;
      this.byShareToken = fresh.byShareToken;
    } finally {
      this.changedDuringLoad = undefined;
    }
  }

  /** Reloads every `intervalMs`; failures keep the last good copy. A reload drops deleted sites. */
  startRefresh(intervalMs: number, onError: (err: unknown) => void): void {
    this.timer = setInterval(() => this.load().catch(onError), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Adds a site or replaces its previous version (whose old keys stop matching at once). */
  add(site: Site): void {
    this.index(site);
    this.changedDuringLoad?.set(site.site_id, site);
  }

  remove(siteId: string): void {
    this.unindex(siteId);
    this.changedDuringLoad?.set(siteId, null);
  }

  private index(site: Site): void {
    this.unindex(site.site_id);
    this.byId.set(site.site_id, site);
    this.byApiKey.set(site.api_key_hash, site);
    this.byReadKey.set(site.read_key_hash, site);
    if (site.share_token_hash) this.byShareToken.set(site.share_token_hash, site);
  }

  private unindex(siteId: string): void {
    const old = this.byId.get(siteId);
    if (!old) return;
    this.byId.delete(siteId);
    this.byApiKey.delete(old.api_key_hash);
    this.byReadKey.delete(old.read_key_hash);
    if (old.share_token_hash) this.byShareToken.delete(old.share_token_hash);
  }

  get(siteId: string): Site | undefined {
    return this.byId.get(siteId);
  }

  all(): Site[] {
    return [...this.byId.values()].sort((a, b) => (a.site_id < b.site_id ? -1 : a.site_id > b.site_id ? 1 : 0));
  }

  byApiKeyHash(hash: string): Site | undefined {
    return this.byApiKey.get(hash);
  }

  byReadKeyHash(hash: string): Site | undefined {
    return this.byReadKey.get(hash);
  }

  byShareTokenHash(hash: string): Site | undefined {
    return this.byShareToken.get(hash);
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

  /** Reads one site from the store into memory (a peer created, changed or deleted it). */
  async refreshSite(siteId: string): Promise<void> {
    const site = await this.store.getSite(siteId);
    if (site) this.add(site);
    else this.remove(siteId);
  }
}
