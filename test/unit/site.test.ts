import { describe, expect, it } from 'vitest';
import { candidateSiteId, generateKey, hashKey, newSite, siteInputSchema, slugify } from '../../src/core/site.js';
import { formatterCacheSize, localDay } from '../../src/core/time.js';

describe('sites', () => {
  it('derives the site id from the name', () => {
    expect(slugify('my-website')).toBe('my-website');
    expect(slugify('My Website!')).toBe('my-website');
    expect(slugify('  Café Crème / Paris  ')).toBe('cafe-creme-paris');
    expect(slugify('a'.repeat(100))).toHaveLength(64);
  });

  // Issue 9, item 8: every valid name gets a usable, URL-safe id, whatever its script.
  it('transliterates names in any script, and falls back to a readable id', () => {
    expect(slugify('Ωmega Café')).toBe('omega-cafe');
    expect(slugify('日本語')).toBe('ribenyu');
    expect(slugify('Ελληνικά')).toBe('ellinika');
    expect(slugify('Русский')).toBe('russkiy');
    expect(slugify('עברית')).toBe('vryt');
    expect(slugify('한국어')).toBe('hangugeo');
    expect(slugify('Straße 🚀')).toBe('strasse-rocket');
    expect(slugify('!!!')).toBe('site');
    expect(slugify('\u200b')).toBe('site');
    for (const name of ['日本語', 'Ελληνικά', 'Русский', 'עברית', 'العربية', 'ภาษาไทย', 'हिन्दी', '!!!', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢', 'x'.repeat(200)]) {
      expect(slugify(name), name).toMatch(/^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/);
    }
    expect(candidateSiteId('shop', 1)).toBe('shop');
    expect(candidateSiteId('shop', 2)).toBe('shop-2');
    expect(candidateSiteId('a'.repeat(64), 12)).toBe(`${'a'.repeat(61)}-12`);
  });

  it('accepts an explicit site_id, validated', () => {
    expect(siteInputSchema.parse({ name: '日本語', site_id: 'nihongo' }).site_id).toBe('nihongo');
    for (const bad of ['', 'Upper', 'with space', '-lead', 'trail-', 'a'.repeat(65), 'ü', 'a/b']) {
      const r = siteInputSchema.safeParse({ name: 'x', site_id: bad });
      expect(r.success, bad).toBe(false);
      expect(r.error?.issues[0]?.path, bad).toEqual(['site_id']);
    }
    expect(siteInputSchema.parse({ name: 'x', site_id: 'a'.repeat(64) }).site_id).toHaveLength(64);
  });

  // Issue 9, item 9: a timezone is stored in its canonical spelling, and no cache grows with
  // the spellings clients send.
  it('stores the canonical timezone name, and caches nothing per spelling', () => {
    expect(siteInputSchema.parse({ name: 'x', timezone: 'europe/paris' }).timezone).toBe('Europe/Paris');
    expect(siteInputSchema.parse({ name: 'x', timezone: 'AMERICA/NEW_YORK' }).timezone).toBe('America/New_York');
    expect(siteInputSchema.parse({ name: 'x', timezone: 'utc' }).timezone).toBe('UTC');
    expect(siteInputSchema.parse({ name: 'x', timezone: 'Etc/UTC' }).timezone).toBe('UTC');
    localDay(0, 'America/Los_Angeles');
    const before = formatterCacheSize();
    // 3,000 case spellings of one zone (the issue measured ~73 MB of growth for as many).
    const spellings = Array.from({ length: 3000 }, (_, i) => {
      let bit = 0;
      return [...'America/Los_Angeles'].map((c) => (/[a-z]/i.test(c) ? ((i >> bit++) & 1 ? c.toUpperCase() : c.toLowerCase()) : c)).join('');
    });
    expect(new Set(spellings).size).toBe(3000);
    for (const s of spellings) expect(siteInputSchema.parse({ name: 'x', timezone: s }).timezone).toBe('America/Los_Angeles');
    expect(formatterCacheSize()).toBe(before);
  });

  it('generates random keys and stores only their hash', () => {
    const k1 = generateKey('api');
    const k2 = generateKey('api');
    expect(k1).toMatch(/^ak_[A-Za-z0-9_-]{32}$/);
    expect(generateKey('read')).toMatch(/^rk_/);
    expect(k1).not.toBe(k2);
    const created = newSite('s', 'S', 'UTC', 1);
    expect(created.site.api_key_hash).toBe(hashKey(created.apiKey));
    expect(created.site.read_key_hash).toBe(hashKey(created.readKey));
    expect(JSON.stringify(created.site)).not.toContain(created.apiKey);
  });

  it('validates the creation body and the timezone', () => {
    expect(siteInputSchema.parse({ name: 'x' })).toEqual({ name: 'x', timezone: 'UTC' });
    expect(siteInputSchema.safeParse({ name: 'a\u0000b' }).error?.issues[0]?.message).toMatch(/name must not contain a NUL/);
    expect(siteInputSchema.safeParse({ name: 'a\ud800b' }).error?.issues[0]?.message).toMatch(/name must be well-formed Unicode/);
    expect(siteInputSchema.parse({ name: 'x', timezone: 'America/New_York' }).timezone).toBe('America/New_York');
    expect(siteInputSchema.safeParse({ name: 'x', timezone: 'Mars/Olympus' }).success).toBe(false);
    expect(siteInputSchema.safeParse({}).error?.issues[0]?.message).toBe('name is required');
    expect(siteInputSchema.safeParse({ name: '   ' }).success).toBe(false);
  });
});
