import { describe, expect, it } from 'vitest';
import { MAX_USER_AGENT_LENGTH, UserAgentParser, parseUserAgent, parseUserAgentUncached } from '../../src/enrich/user-agent.js';

const UA = {
  chromeWin: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  safariMac: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  firefoxUbuntu: 'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
  iphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  chromebook: 'Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  ps5: 'Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko)',
  tizenTv: 'Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36',
  ie11: 'Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko',
};

describe('parseUserAgent', () => {
  it('names browser and OS the way a dashboard shows them', () => {
    expect(parseUserAgent(UA.chromeWin)).toEqual({ browser: 'Chrome', os: 'Windows', device: 'desktop' });
    expect(parseUserAgent(UA.safariMac)).toEqual({ browser: 'Safari', os: 'macOS', device: 'desktop' });
    expect(parseUserAgent(UA.iphone)).toEqual({ browser: 'Safari', os: 'iOS', device: 'mobile' }); // not "Mobile Safari"
    expect(parseUserAgent(UA.chromebook)).toEqual({ browser: 'Chrome', os: 'ChromeOS', device: 'desktop' });
    expect(parseUserAgent(UA.ie11)).toEqual({ browser: 'Internet Explorer', os: 'Windows', device: 'desktop' });
  });

  it('shows Linux distributions as Linux, on a desktop', () => {
    expect(parseUserAgent(UA.firefoxUbuntu)).toEqual({ browser: 'Firefox', os: 'Linux', device: 'desktop' });
    expect(parseUserAgent('Mozilla/5.0 (X11; Fedora; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0').os).toBe('Linux');
  });

  it('maps the parser device types, smarttv to tv', () => {
    expect(parseUserAgent(UA.ps5)).toEqual({ browser: 'WebKit', os: 'PlayStation', device: 'console' });
    expect(parseUserAgent(UA.tizenTv)).toEqual({ browser: 'Samsung Internet', os: 'Tizen', device: 'tv' });
  });

  it('knows nothing about an empty or unrecognised user agent', () => {
    const nothing = { browser: null, os: null, device: null };
    expect(parseUserAgent('')).toEqual(nothing);
    expect(parseUserAgent('   ')).toEqual(nothing);
    expect(parseUserAgent('curl/8.5.0')).toEqual(nothing);
    expect(parseUserAgent('\u0000\u0001 garbage ☃')).toEqual(nothing);
  });

  it('reads only the first 500 characters of a huge user agent', () => {
    const huge = UA.chromeWin + ' x'.repeat(50_000);
    expect(parseUserAgent(huge)).toEqual({ browser: 'Chrome', os: 'Windows', device: 'desktop' });
  });

  it('returns frozen results, equal to the uncached parse', () => {
    const info = parseUserAgent(UA.iphone);
    expect(Object.isFrozen(info)).toBe(true);
    expect(parseUserAgentUncached(UA.iphone)).toEqual(info);
  });
});

describe('UserAgentParser cache', () => {
  it('answers a repeated user agent from the cache', () => {
    const p = new UserAgentParser(10);
    const first = p.parse(UA.chromeWin);
    expect(p.parse(UA.chromeWin)).toBe(first);
    expect(p.size).toBe(1);
  });

  it('never holds more than its bound, evicting the least recently used', () => {
    const p = new UserAgentParser(3);
    const a = p.parse(UA.chromeWin);
    const b = p.parse(UA.safariMac);
    p.parse(UA.iphone);
    expect(p.parse(UA.chromeWin)).toBe(a); // a is now the most recent; b the least
    p.parse(UA.chromebook); // evicts b
    expect(p.size).toBe(3);
    expect(p.parse(UA.chromeWin)).toBe(a);
    const b2 = p.parse(UA.safariMac); // parsed again: a new object
    expect(b2).not.toBe(b);
    expect(b2).toEqual(b);
    for (let i = 0; i < 1000; i++) p.parse(`${UA.chromeWin} build/${i}`);
    expect(p.size).toBe(3);
  });

  it('keys by the first 500 characters, so huge user agents cannot grow it', () => {
    const p = new UserAgentParser(5);
    const base = UA.chromeWin.padEnd(MAX_USER_AGENT_LENGTH, ' ');
    const first = p.parse(base + 'a'.repeat(10_000));
    expect(p.parse(base + 'b'.repeat(10_000))).toBe(first);
    expect(p.size).toBe(1);
  });

  it('with a bound of 0 caches nothing, and refuses a bad bound', () => {
    const p = new UserAgentParser(0);
    expect(p.parse(UA.chromeWin)).toEqual({ browser: 'Chrome', os: 'Windows', device: 'desktop' });
    expect(p.size).toBe(0);
    expect(() => new UserAgentParser(-1)).toThrow(RangeError);
    expect(() => new UserAgentParser(1.5)).toThrow(RangeError);
  });
});
