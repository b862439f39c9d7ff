// The ingestion steps on their own, with salts in a real SQLite store: timestamps, bots, the
// cookieless visitor hash, page, UTM, country and language, and what the queued event holds.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from '../../src/api/errors.js';
import { newSite, type Site } from '../../src/core/site.js';
import { IngestPipeline, type IngestRequest } from '../../src/ingest/pipeline.js';
import { SaltCache } from '../../src/ingest/salts.js';
import { sqliteHarness } from '../helpers/stores.js';
import type { StoreHarness } from '../store.contract.js';

const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0';
const NOW = Date.parse('2026-12-01T12:00:00Z');
const DAY = 86_400_000;

describe('ingestion steps', () => {
  let h: StoreHarness;
  let site: Site;
  let pipeline: IngestPipeline;
  const limits = { retentionDays: 7, maxFutureSkewMs: 300_000 };

  beforeEach(async () => {
    h = await sqliteHarness();
    site = newSite('shop', 'Shop', 'Europe/Paris', NOW).site;
    pipeline = new IngestPipeline(new SaltCache(h.store, () => NOW), limits);
  });
  afterEach(async () => h.cleanup());

  const req = (body: Record<string, unknown>, over: Partial<IngestRequest> = {}): IngestRequest => ({
    body: { site_id: 'shop', event_type: 'pageview', ...body },
    site,
    ip: '8.8.8.8',
    userAgent: CHROME,
    acceptLanguage: 'de-DE,de;q=0.9,en;q=0.8',
    now: NOW,
    ...over,
  });
  const accepted = async (r: IngestRequest) => {
    const out = await pipeline.run(r);
    if (out.kind !== 'accepted') throw new Error(`ignored: ${out.reason}`);
    return out.event;
  };
  const refusal = async (r: IngestRequest) => {
    try {
      await pipeline.run(r);
    } catch (err) {
      return err as ApiError;
    }
    throw new Error('accepted');
  };

  it('builds the queued event from what a browser sends, without the IP', async () => {
    const e = await accepted(req({ url: 'https://www.shop.example/blog/post?utm_source=news&utm_campaign=winter#top', referrer: 'https://www.google.com/', screen_width: 390, props: undefined }));
    expect(e).toMatchObject({
      site_id: 'shop',
      type: 'pageview',
      path: '/blog/post',
      host: 'shop.example',
      referrer: 'https://www.google.com/',
      utm_source: 'news',
      utm_campaign: 'winter',
      screen_width: 390,
      language: 'de',
      country: 'US',
      ua: CHROME,
      ts: NOW,
      received_at: NOW,
    });
    expect(e.visitor).toMatch(/^h:[A-Za-z0-9_-]{22}$/);
    expect(JSON.stringify(e)).not.toContain('8.8.8.8');
  });

  it('keeps the fragment only with hash routing, and a given path over the URL', async () => {
    expect((await accepted(req({ url: 'https://s.example/#/settings', hash_routing: true }))).path).toBe('/#/settings');
    expect((await accepted(req({ url: 'https://s.example/#/settings' }))).path).toBe('/');
    expect((await accepted(req({ url: 'https://s.example/a', path: '/given' }))).path).toBe('/given');
  });

  it('hashes one visitor per IP and user agent per day, the same in every process', async () => {
    const a = await accepted(req({ path: '/' }));
    const b = await accepted(req({ path: '/x' }));
    expect(b.visitor).toBe(a.visitor);
    expect((await accepted(req({ path: '/' }, { userAgent: FIREFOX }))).visitor).not.toBe(a.visitor);
    expect((await accepted(req({ path: '/' }, { ip: '1.1.1.1' }))).visitor).not.toBe(a.visitor);
    // A second API server on the same store agrees (the salt is the store's).
    const other = new IngestPipeline(new SaltCache(h.store, () => NOW), limits);
    const c = await other.run(req({ path: '/' }));
    expect(c.event.visitor).toBe(a.visitor);
    // The next local day has another salt: another visitor.
    const tomorrow = await accepted(req({ path: '/' }, { now: NOW + DAY }));
    expect(tomorrow.visitor).not.toBe(a.visitor);
  });

  it('gives a one-off visitor to an event whose date has no salt any more', async () => {
    const e = await accepted(req({ path: '/', timestamp: new Date(NOW - 5 * DAY).toISOString() }));
    expect(e.visitor).toMatch(/^o:/);
    const again = await accepted(req({ path: '/', timestamp: new Date(NOW - 5 * DAY).toISOString() }));
    expect(again.visitor).not.toBe(e.visitor);
  });

  it('counts a given user_id as given, whatever sends it', async () => {
    const e = await accepted(req({ path: '/', user_id: 'user-123' }, { userAgent: 'curl/8.5.0' }));
    expect(e.visitor).toBe('u:user-123');
    expect((await accepted(req({ path: '/', user_id: 'user-123' }, { userAgent: undefined }))).visitor).toBe('u:user-123');
  });

  it('drops bots and empty user agents without a user_id, with the reason', async () => {
    for (const userAgent of ['curl/8.5.0', 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', 'Mozilla/5.0 HeadlessChrome/124.0', undefined, '']) {
      const out = await pipeline.run(req({ path: '/' }, { userAgent }));
      expect(out).toMatchObject({ kind: 'ignored', reason: 'bot', event: { site_id: 'shop', path: '/', ignored: 'bot' } });
      expect(out.event.visitor).toBeUndefined();
    }
    expect(pipeline.dropped.get('bot')).toBe(5);
  });

  it('derives the same event id from a client event_id every time', async () => {
    const body = { path: '/', event_id: '3b241101-e2bb-4255-8caf-4136c566a962' };
    expect((await accepted(req(body))).id).toBe((await accepted(req(body))).id);
    expect((await accepted(req({ path: '/' }))).id).not.toBe((await accepted(req({ path: '/' }))).id);
  });

  it('refuses events outside the retention window or from the future, and events of another site', async () => {
    const old = await refusal(req({ path: '/', timestamp: new Date(NOW - 7 * DAY - 1000).toISOString() }));
    expect(old.details).toEqual([{ field: 'timestamp', message: 'timestamp is older than the retention window of 7 days' }]);
    const future = await refusal(req({ path: '/', timestamp: new Date(NOW + 301_000).toISOString() }));
    expect(future.details).toEqual([{ field: 'timestamp', message: 'timestamp is more than 300 seconds in the future' }]);
    expect((await accepted(req({ path: '/', timestamp: new Date(NOW - 7 * DAY + 1000).toISOString() }))).ts).toBe(NOW - 7 * DAY + 1000);
    const other = await refusal(req({ path: '/', site_id: 'other' }));
    expect(other.statusCode).toBe(403);
  });

  it('takes the language from the body first, else from Accept-Language', async () => {
    expect((await accepted(req({ path: '/', language: 'pt-BR' }))).language).toBe('pt');
    expect((await accepted(req({ path: '/' }, { acceptLanguage: undefined }))).language).toBeUndefined();
  });

  it('finds no country for private and loopback addresses', async () => {
    for (const ip of ['127.0.0.1', '::1', '10.1.2.3', '::ffff:192.168.1.1']) expect((await accepted(req({ path: '/' }, { ip }))).country).toBeUndefined();
    expect((await accepted(req({ path: '/' }, { ip: '::ffff:8.8.8.8' }))).country).toBe('US');
  });
});
