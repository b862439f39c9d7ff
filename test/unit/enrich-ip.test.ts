import { BlockList } from 'node:net';
import { describe, expect, it } from 'vitest';
import { isPublicIp, lookupAddress } from '../../src/enrich/ip.js';

// node:net's BlockList with the same ranges is the oracle (too slow for the hot path, ~1 µs a check).
const oracle = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) oracle.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 96], ['64:ff9b::', 96], ['100::', 64], ['2001:db8::', 32], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const) oracle.addSubnet(net, bits, 'ipv6');

// A small deterministic PRNG (mulberry32), so a failure can be reproduced.
let seed = 12345;
const rand = (n: number): number => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
};
const pick = <T>(xs: T[]): T => xs[rand(xs.length)]!;

function randomIPv4(): string {
  const a = pick([0, 10, 100, 127, 169, 172, 192, 198, 203, 223, 224, 239, 240, 255, rand(256), rand(256)]);
  const b = pick([0, 2, 15, 16, 18, 19, 31, 32, 51, 63, 64, 127, 128, 168, 254, rand(256)]);
  const c = pick([0, 2, 100, 113, rand(256)]);
  return `${a}.${b}.${c}.${rand(256)}`;
}

function randomIPv6Groups(): number[] {
  const g0 = pick([0, 0, 0x64, 0x100, 0x2001, 0x2a00, 0xfbff, 0xfc00, 0xfd12, 0xfe7f, 0xfe80, 0xfebf, 0xfec0, 0xfeff, 0xff02, rand(0x10000)]);
  const g1 = pick([0, 0xdb8, 0xdb9, 0xff9b, rand(0x10000)]);
  const groups = [g0, g1];
  for (let i = 2; i < 8; i++) groups.push(rand(3) === 0 ? rand(0x10000) : 0);
  if (rand(8) === 0) groups.splice(0, 8, 0, 0, 0, 0, 0, pick([0, 0xffff]), rand(0x10000), rand(0x10000));
  return groups;
}

const full = (g: number[]) => g.map((x) => x.toString(16)).join(':');
const canonical = (g: number[]) => new URL(`http://[${full(g)}]/`).hostname.slice(1, -1); // compressed, as Node prints it

describe('lookupAddress / isPublicIp', () => {
  it('agrees with node:net BlockList on 20,000 random IPv4 addresses', () => {
    const wrong: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const ip = randomIPv4();
      if (isPublicIp(ip) !== !oracle.check(ip, 'ipv4')) wrong.push(ip);
    }
    expect(wrong).toEqual([]);
  });

  it('agrees with node:net BlockList on 20,000 random IPv6 addresses, written out and compressed', () => {
    const wrong: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const g = randomIPv6Groups();
      const expected = !oracle.check(full(g), 'ipv6');
      for (const ip of [full(g), canonical(g), canonical(g).toUpperCase()]) if (isPublicIp(ip) !== expected) wrong.push(ip);
    }
    expect(wrong).toEqual([]);
  });

  it('turns every spelling of an IPv4-mapped address into plain IPv4', () => {
    for (const ip of ['::ffff:8.8.8.8', '::FFFF:8.8.8.8', '::ffff:808:808', '::ffff:0808:0808', '0:0:0:0:0:ffff:808:808', '0:0:0:0:0:ffff:8.8.8.8', '0000:0000:0000:0000:0000:ffff:0808:0808']) {
      expect({ ip, lookup: lookupAddress(ip) }).toEqual({ ip, lookup: { version: 4, address: '8.8.8.8' } });
    }
    expect(lookupAddress('::ffff:192.168.1.1')).toBeNull();
    expect(lookupAddress('::ffff:7f00:1')).toBeNull();
  });

  it('keeps other addresses as written, without a zone', () => {
    expect(lookupAddress('81.2.69.142')).toEqual({ version: 4, address: '81.2.69.142' });
    expect(lookupAddress('2001:200::1')).toEqual({ version: 6, address: '2001:200::1' });
    expect(lookupAddress('2001:200::1%eth0')).toEqual({ version: 6, address: '2001:200::1' });
    expect(lookupAddress('fe80::1%eth0')).toBeNull();
    expect(lookupAddress('::1.2.3.4')).toBeNull(); // IPv4-compatible (deprecated) is in ::/96
    expect(lookupAddress('::ffff:1.2.3')).toBeNull();
    expect(lookupAddress('')).toBeNull();
  });
});
