// Sites and their keys. A key is shown once, at creation; only its SHA-256 is stored.
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { isValidTimeZone } from './time.js';

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

export const siteInputSchema = z.object(
  {
    name: z
      .string({ error: (i) => (i.input === undefined ? 'name is required' : 'name must be a string') })
      .trim()
      .min(1, { error: 'name must not be empty' })
      .max(200, { error: 'name must be at most 200 characters' }),
    timezone: z
      .string({ error: 'timezone must be a string' })
      .refine(isValidTimeZone, { error: 'timezone must be an IANA timezone name, e.g. Europe/Paris' })
      .default('UTC'),
  },
  { error: 'Request body must be a JSON object' },
);

/** "My Website!" -> "my-website". Empty when the name has no letters or digits. */
export function slugify(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64)
    .replace(/-+$/, '');
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
  return createHash('sha256').update(key).digest('hex');
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
