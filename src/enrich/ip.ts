// Classifying client IP addresses without a lookup table: which ones can locate a visitor.
// (node:net's BlockList does the same job at ~1 µs a check, more than the country lookup itself.)
import { isIP } from 'node:net';

/** The address to give the country database: IPv4 dotted (also for mapped IPv6), or IPv6 as written. */
export type LookupAddress = { version: 4 | 6; address: string };

function ipv4Octets(ip: string): [number, number, number, number] {
  const p = ip.split('.');
  return [Number(p[0]), Number(p[1]), Number(p[2]), Number(p[3])];
}

/** Private, shared (CGNAT), loopback, link-local, "this network", documentation, benchmarking, multicast, reserved. */
function isSpecialIPv4(a: number, b: number, c: number): boolean {
  return (
    a === 0 || a === 10 || a === 127 || a >= 224 ||
    (a === 100 && b >= 64 && b < 128) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b < 32) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0 && (c === 0 || c === 2)) ||
    (a === 198 && (b === 18 || b === 19)) ||
    (a === 198 && b === 51 && c === 100) ||
    (a === 203 && b === 0 && c === 113)
  );
}

const groups = new Array<number>(8); // reused: the functions here are synchronous

/**
 * The eight 16-bit groups of an address that `isIP` accepts as IPv6 (zone removed), in a shared
 * array valid until the next call. One pass over the characters: this runs once per event.
 */
function ipv6Groups(ip: string): number[] {
  let n = 0; // groups written
  let gap = -1; // where "::" stands
  let value = 0;
  let digits = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 58 /* : */) {
      if (digits > 0) groups[n++] = value;
      else if (i > 0) gap = n; // the second colon of "::"
      value = 0;
      digits = 0;
    } else if (c === 46 /* . */) {
      // The last 32 bits written as IPv4 (::ffff:1.2.3.4): re-read them from the group's start.
      const [a, b, cc, d] = ipv4Octets(ip.slice(i - digits));
      groups[n++] = (a << 8) | b;
      groups[n++] = (cc << 8) | d;
      digits = 0;
      break;
    } else {
      value = value * 16 + (c <= 57 ? c - 48 : (c | 32) - 87);
      digits++;
    }
  }
  if (digits > 0) groups[n++] = value;
  if (gap >= 0) {
    const shift = 8 - n;
    for (let i = n - 1; i >= gap; i--) groups[i + shift] = groups[i]!;
    for (let i = gap; i < gap + shift; i++) groups[i] = 0;
  }
  return groups;
}

/** Unspecified, loopback, IPv4-compatible, NAT64, discard, documentation, unique-local, link-local, site-local, multicast. */
function isSpecialIPv6(g: number[]): boolean {
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0] = g;
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return true; // ::/96 (::, ::1, ::a.b.c.d)
  return (
    (g0 & 0xfe00) === 0xfc00 || // fc00::/7
    (g0 & 0xffc0) === 0xfe80 || // fe80::/10
    (g0 & 0xffc0) === 0xfec0 || // fec0::/10
    (g0 & 0xff00) === 0xff00 || // ff00::/8
    (g0 === 0x2001 && g1 === 0x0db8) || // 2001:db8::/32
    (g0 === 0x0064 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) || // 64:ff9b::/96
    (g0 === 0x0100 && g1 === 0 && g2 === 0 && g3 === 0) // 100::/64
  );
}

/**
 * The address to look up for a client IP, or `null` when it is not an IP address or can never locate
 * a visitor. IPv4-mapped IPv6 (`::ffff:1.2.3.4`, `::ffff:102:304`, written out in full or not) becomes
 * plain IPv4; a zone (`fe80::1%eth0`) is removed.
 */
export function lookupAddress(ip: string): LookupAddress | null {
  const zone = ip.indexOf('%');
  const addr = zone >= 0 ? ip.slice(0, zone) : ip;
  const version = isIP(addr);
  if (version === 4) {
    const [a, b, c] = ipv4Octets(addr);
    return isSpecialIPv4(a, b, c) ? null : { version: 4, address: addr };
  }
  if (version !== 6) return null;
  const g = ipv6Groups(addr);
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    const a = g[6]! >> 8, b = g[6]! & 255, c = g[7]! >> 8, d = g[7]! & 255;
    return isSpecialIPv4(a, b, c) ? null : { version: 4, address: `${a}.${b}.${c}.${d}` };
  }
  return isSpecialIPv6(g) ? null : { version: 6, address: addr };
}

/** Whether an IP address can locate a visitor (see `lookupAddress`). */
export function isPublicIp(ip: string): boolean {
  return lookupAddress(ip) !== null;
}
