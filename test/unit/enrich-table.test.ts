// Every row of the fixed enrichment table gets exactly its expected values.
import { describe, expect, it } from 'vitest';
import { botReason, countryOf, languageOf, pageHost, pagePath, parseUserAgent, referrerHost, screenClass, sourceOf, utmOf } from '../../src/enrich/index.js';
import { BOTS, BROWSERS, IPS, LANGUAGES, REFERRERS, SCREENS, URLS } from '../helpers/enrich-table.js';

describe('enrichment table', () => {
  it(`parses ${BROWSERS.length} mainstream browsers, none of them a bot`, () => {
    expect(BROWSERS.length).toBeGreaterThanOrEqual(15);
    for (const { name, ua, browser, os, device } of BROWSERS) {
      expect({ name, ...parseUserAgent(ua), bot: botReason(ua) }).toEqual({ name, browser, os, device, bot: null });
    }
  });

  it(`drops ${BOTS.length} bots with their reason`, () => {
    for (const { name, ua, reason } of BOTS) expect({ name, reason: botReason(ua) }).toEqual({ name, reason });
  });

  it('adds up to exact browser, OS and device counts', () => {
    const count = (key: 'browser' | 'os' | 'device') => {
      const c: Record<string, number> = {};
      for (const row of BROWSERS) {
        const v = String(parseUserAgent(row.ua)[key]);
        c[v] = (c[v] ?? 0) + 1;
      }
      return c;
    };
    expect(count('browser')).toEqual({ Chrome: 9, Firefox: 5, Edge: 2, Opera: 1, Safari: 3, 'Samsung Internet': 1 });
    expect(count('os')).toEqual({ Windows: 5, macOS: 4, Linux: 2, ChromeOS: 1, iOS: 4, Android: 5 });
    expect(count('device')).toEqual({ desktop: 12, mobile: 7, tablet: 2 });
  });

  it('finds the referrer host and source of each referrer', () => {
    for (const { referrer, utm_source, host, source } of REFERRERS) {
      const h = referrerHost(referrer, 'example.com');
      expect({ referrer, utm_source, host: h, source: sourceOf(h, utm_source) }).toEqual({ referrer, utm_source, host, source });
    }
  });

  it('finds the path, host and UTM tags of each page URL', () => {
    for (const { url, hashRouting, path, host, utm } of URLS) {
      expect({ url, path: pagePath(url, { hashRouting }), host: pageHost(url), utm: utmOf(url) }).toEqual({ url, path, host, utm });
    }
  });

  it('finds the country of each IP', () => {
    for (const { ip, country } of IPS) expect({ ip, country: countryOf(ip) }).toEqual({ ip, country });
  });

  it('finds the language and screen class', () => {
    for (const { body, header, language } of LANGUAGES) expect({ body, header, language: languageOf(body, header) }).toEqual({ body, header, language });
    for (const { width, screen } of SCREENS) expect({ width, screen: screenClass(width) }).toEqual({ width, screen });
  });
});
