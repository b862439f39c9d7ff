import { describe, expect, it } from 'vitest';
import { generateKey, hashKey, newSite, siteInputSchema, slugify } from '../../src/core/site.js';

describe('sites', () => {
  it('derives the site id from the name', () => {
    expect(slugify('my-website')).toBe('my-website');
    expect(slugify('My Website!')).toBe('my-website');
    expect(slugify('  Café Crème / Paris  ')).toBe('cafe-creme-paris');
    expect(slugify('日本語')).toBe('');
    expect(slugify('a'.repeat(100))).toHaveLength(64);
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
    expect(siteInputSchema.parse({ name: 'x', timezone: 'America/New_York' }).timezone).toBe('America/New_York');
    expect(siteInputSchema.safeParse({ name: 'x', timezone: 'Mars/Olympus' }).success).toBe(false);
    expect(siteInputSchema.safeParse({}).error?.issues[0]?.message).toBe('name is required');
    expect(siteInputSchema.safeParse({ name: '   ' }).success).toBe(false);
  });
});
