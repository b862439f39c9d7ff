import { describe, expect, it } from 'vitest';
import { knownReferrer, loadReferrers, referrerHost, sourceOf } from '../../src/enrich/referrer.js';

describe('referrerHost', () => {
  it('is the host in lower case without www', () => {
    expect(referrerHost('https://www.Google.com/search?q=x', 'example.com')).toBe('google.com');
    expect(referrerHost('https://news.ycombinator.com/item?id=1', 'example.com')).toBe('news.ycombinator.com');
    expect(referrerHost('http://blog.other.org:8080/post', 'example.com')).toBe('blog.other.org');
    expect(referrerHost('https://google.com./', undefined)).toBe('google.com');
    expect(referrerHost('https://bücher.de/', undefined)).toBe('xn--bcher-kva.de');
  });

  it('is null (direct) for no referrer, an unparsable or non-http one', () => {
    for (const r of [undefined, null, '', 'not a url', '/relative/path', 'android-app://com.google.android.gm/', 'about:blank', 'file:///x.html', 'javascript:void(0)']) {
      expect({ r, host: referrerHost(r, 'example.com') }).toEqual({ r, host: null });
    }
  });

  it('is null for the page’s own host, with or without www', () => {
    expect(referrerHost('https://example.com/a', 'example.com')).toBeNull();
    expect(referrerHost('https://www.example.com/a', 'example.com')).toBeNull();
    expect(referrerHost('https://example.com/a', 'www.example.com')).toBeNull();
    expect(referrerHost('https://EXAMPLE.com/a', 'Example.COM')).toBeNull();
    expect(referrerHost('https://blog.example.com/a', 'example.com')).toBe('blog.example.com');
    expect(referrerHost('https://example.com/a', undefined)).toBe('example.com');
  });
});

describe('sourceOf', () => {
  it('is utm_source when present', () => {
    expect(sourceOf('google.com', 'newsletter')).toBe('newsletter');
    expect(sourceOf(null, 'newsletter')).toBe('newsletter');
    expect(sourceOf('google.com', '  ')).toBe('Google');
  });

  it('names well-known referrers, also through their subdomains', () => {
    const cases: Array<[string, string]> = [
      ['google.com', 'Google'],
      ['google.co.uk', 'Google'],
      ['google.de', 'Google'],
      ['bing.com', 'Bing'],
      ['duckduckgo.com', 'DuckDuckGo'],
      ['facebook.com', 'Facebook'],
      ['l.facebook.com', 'Facebook'],
      ['m.facebook.com', 'Facebook'],
      ['linkedin.com', 'LinkedIn'],
      ['lnkd.in', 'LinkedIn'],
      ['reddit.com', 'Reddit'],
      ['old.reddit.com', 'Reddit'],
      ['news.ycombinator.com', 'Hacker News'],
      ['github.com', 'GitHub'],
      ['youtube.com', 'YouTube'],
      ['m.youtube.com', 'YouTube'],
      ['x.com', 'X'],
      ['t.co', 'X'],
      ['twitter.com', 'X'],
      ['mobile.twitter.com', 'X'],
      ['chatgpt.com', 'ChatGPT'],
      ['chat.openai.com', 'ChatGPT'],
      ['perplexity.ai', 'Perplexity'],
      ['www.perplexity.ai', 'Perplexity'],
      ['claude.ai', 'Claude'],
      ['gemini.google.com', 'Gemini'],
      ['copilot.microsoft.com', 'Copilot'],
      ['mail.google.com', 'Gmail'],
      ['bsky.app', 'Bluesky'],
    ];
    for (const [host, name] of cases) expect({ host, name: sourceOf(host, null) }).toEqual({ host, name });
  });

  it('is the host for an unknown referrer, and null for direct', () => {
    expect(sourceOf('blog.example.org', null)).toBe('blog.example.org');
    expect(sourceOf('ycombinator.com', null)).toBe('ycombinator.com');
    expect(sourceOf('com', null)).toBe('com');
    expect(sourceOf(null, null)).toBeNull();
    expect(sourceOf(undefined, undefined)).toBeNull();
  });

  it('does not climb to a bare suffix', () => {
    expect(knownReferrer('example.co.uk')).toBeNull();
    expect(knownReferrer('a.b.c.example.com')).toBeNull();
    expect(knownReferrer('deep.sub.news.ycombinator.com')?.source).toBe('Hacker News');
  });

  it('loads the data set: thousands of hosts, path-keyed entries skipped, no www keys', () => {
    const map = loadReferrers();
    expect(map.size).toBeGreaterThan(1200);
    expect([...map.keys()].some((k) => k.includes('/') || k.startsWith('www.') || k !== k.toLowerCase())).toBe(false);
    expect(knownReferrer('google.com')).toEqual({ source: 'Google', medium: 'search' });
    expect(knownReferrer('chatgpt.com')).toEqual({ source: 'ChatGPT', medium: 'ai' });
  });
});
