// Sites and their keys. A key is shown once, at creation; only its SHA-256 is stored.
import { hash, randomBytes } from 'node:crypto';
import anyAscii from 'any-ascii';
import { z } from 'zod';
import { storableText } from './text.js';
import { canonicalTimeZone } from './time.js';

export interface Site {
  site_id: string;
  name: string;
  timezone: string;
  api_key_hash: string;
  read_key_hash: string;
  created_at: number;
  /** SHA-256 of the public share token, when a read-only share link is on. */
  share_token_hash?: string;
}

/** A site id: what URLs and queries carry. Lower-case letters, digits and inner hyphens, 1–64. */
export const SITE_ID_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;
export const SITE_ID_RULE = 'site_id must be 1–64 characters of a-z, 0-9 and "-", not starting or ending with "-"';

export const siteInputSchema = z.object(
  {
    name: z
      .string({ error: (i) => (i.input === undefined ? 'name is required' : 'name must be a string') })
      .trim()
      .min(1, { error: 'name must not be empty' })
      .max(200, { error: 'name must be at most 200 characters' })
      .refine(...storableText('name')),
    // Stored in its canonical spelling ("europe/paris" -> "Europe/Paris"): one name per zone.
    timezone: z
      .string({ error: 'timezone must be a string' })
      .refine(...storableText('timezone'))
      .transform((tz, ctx) => {
        const canonical = canonicalTimeZone(tz);
        if (canonical === undefined) {
          ctx.addIssue({ code: 'custom', message: 'timezone must be an IANA timezone name, e.g. Europe/Paris' });
          return z.NEVER;
        }
        return canonical;
      })
      .default('UTC'),
    // Optional: without it the id is derived from the name (and made unique).
    site_id: z
      .string({ error: 'site_id must be a string' })
      .regex(SITE_ID_PATTERN, { error: SITE_ID_RULE })
      .optional(),
  },
  { error: 'Request body must be a JSON object' },
);

/** The id a name gives when nothing in it can be written in ASCII (e.g. only symbols). */
export const FALLBACK_SITE_ID = 'site';

/**
 * "My Website!" -> "my-website", "Ωmega Café" -> "omega-cafe", "日本語" -> "ribenyu",
 * "Русский" -> "russkiy": any script, transliterated to ASCII (any-ascii), lower case, other
 * characters as single hyphens, at most 64 characters. A name with nothing left gives "site".
 */
export function slugify(name: string): string {
  const slug = anyAscii(name.normalize('NFC'))
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64)
    .replace(/-+$/, '');
  return slug || FALLBACK_SITE_ID;
}

/** The n-th candidate id for a derived slug: "shop", "shop-2", "shop-3", … always ≤ 64 characters. */
export function candidateSiteId(slug: string, n: number): string {
  if (n <= 1) return slug;
  const suffix = `-${n}`;
  return `${slug.slice(0, 64 - suffix.length).replace(/-+$/, '')}${suffix}`;
}

/**
 * Ingestion keys may be embedded in public pages; read keys must stay secret; share tokens sit in
 * a public link that reads one site's statistics.
 */
export type KeyKind = 'api' | 'read' | 'share';
const PREFIX: Record<KeyKind, string> = { api: 'ak_', read: 'rk_', share: 'sh_' };

export function generateKey(kind: KeyKind): string {
  return PREFIX[kind] + randomBytes(24).toString('base64url'); // 192 random bits
}

export function hashKey(key: string): string {
  return hash('sha256', key, 'hex');
}

export interface NewSite {
  site: Site;
  apiKey: string;
  readKey: string;
}

export function newSite(siteId: string, name: string, timezone: string, now: number): NewSite {
  const apiKey = generateKey('api');
  const readKey = generateKey('read');
  return {
    site: {
      site_id: siteId,
      name,
      timezone,
      api_key_hash: hashKey(apiKey),
      read_key_hash: hashKey(readKey),
      created_at: now,
    },
    apiKey,
    readKey,
  };
}

/** New keys for an existing site (rotation): the old ones stop working once these are stored. */
export function rotatedKeys(): { apiKey: string; readKey: string; hashes: { api_key_hash: string; read_key_hash: string } } {
  const apiKey = generateKey('api');
  const readKey = generateKey('read');
  return { apiKey, readKey, hashes: { api_key_hash: hashKey(apiKey), read_key_hash: hashKey(readKey) } };
}
