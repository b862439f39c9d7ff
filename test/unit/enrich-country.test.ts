import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { countryDbPath, countryOf, isPublicIp, loadCountryDb } from '../../src/enrich/country.js';

describe('countryOf', () => {
  it('finds the database inside the npm package', () => {
    const file = countryDbPath();
    expect(file).toMatch(/@ip-location-db[/\\]dbip-country-mmdb[/\\]dbip-country\.mmdb$/);
    expect(fs.statSync(file).size).toBeGreaterThan(1_000_000);
    loadCountryDb();
    loadCountryDb(); // idempotent
  });

  it('locates public IPv4 and IPv6 addresses', () => {
    expect(countryOf('8.8.8.8')).toBe('US');
    expect(countryOf('1.1.1.1')).toBe('AU');
    expect(countryOf('81.2.69.142')).toBe('GB');
    expect(countryOf('193.0.6.139')).toBe('NL');
    expect(countryOf('2001:67c:2e8:22::c100:68b')).toBe('NL');
    expect(countryOf('2001:200::1')).toBe('JP');
    expect(countryOf('2A00:1450:4001:80B::200E')).toBe('DE');
  });

  it('reads IPv4-mapped IPv6 addresses as IPv4', () => {
    expect(countryOf('::ffff:8.8.8.8')).toBe('US');
    expect(countryOf('::FFFF:81.2.69.142')).toBe('GB');
    expect(countryOf('::ffff:808:808')).toBe('US');
    expect(countryOf('::ffff:10.0.0.1')).toBeNull();
    expect(countryOf('::ffff:7f00:1')).toBeNull();
  });

  it('gives null for private, loopback, link-local, reserved and unspecified addresses', () => {
    for (const ip of [
      '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '127.0.0.1', '169.254.169.254', '100.64.0.1',
      '0.0.0.0', '192.0.2.1', '198.51.100.7', '203.0.113.9', '224.0.0.1', '255.255.255.255',
      '::', '::1', 'fe80::1', 'fe80::1%eth0', 'fc00::1', 'fd12:3456::1', 'ff02::1', '2001:db8::1',
    ]) {
      expect({ ip, country: countryOf(ip) }).toEqual({ ip, country: null });
    }
  });

  it('tells public addresses from the ranges that never locate a visitor', () => {
    for (const ip of ['8.8.8.8', '1.1.1.1', '172.15.255.255', '172.32.0.0', '100.63.255.255', '100.128.0.0', '11.0.0.0', '2001:4860::1', '2a00::1', '::ffff:8.8.8.8']) {
      expect({ ip, pub: isPublicIp(ip) }).toEqual({ ip, pub: true });
    }
    for (const ip of ['10.0.0.0', '10.255.255.255', '172.16.0.0', '172.31.255.255', '192.168.0.0', '127.255.255.255', '169.254.0.1',
      '100.64.0.0', '100.127.255.255', '0.1.2.3', '198.18.0.1', '198.19.255.255', '240.0.0.1', '239.255.255.255',
      '::', '::1', 'fe80::abcd', 'febf::1', 'fec0::1', 'fc00::', 'fdff:ffff::1', 'ff00::', '2001:db8:ffff::1', '64:ff9b::808:808', '100::1',
      '::ffff:192.168.0.1', '::ffff:127.0.0.1', 'nonsense', '']) {
      expect({ ip, pub: isPublicIp(ip) }).toEqual({ ip, pub: false });
    }
  });

  it('gives null for what is not an address', () => {
    for (const ip of [undefined, null, '', 'localhost', '1.2.3', '256.1.1.1', '8.8.8.8 ', '01.2.3.4', '[::1]', '::ffff:zzzz:1', '8.8.8.8:443']) {
      expect({ ip, country: countryOf(ip) }).toEqual({ ip, country: null });
    }
  });
});
