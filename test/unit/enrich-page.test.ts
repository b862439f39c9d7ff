import { describe, expect, it } from 'vitest';
import { pageHost, pagePath } from '../../src/enrich/page.js';

const plain = { hashRouting: false };
const hash = { hashRouting: true };

describe('pagePath', () => {
  it('is the pathname without query string or fragment', () => {
    expect(pagePath('https://example.com/blog/post?utm_source=x#comments', plain)).toBe('/blog/post');
    expect(pagePath('https://example.com', plain)).toBe('/');
    expect(pagePath('https://example.com/?q=1', plain)).toBe('/');
    expect(pagePath('https://example.com/a/b/', plain)).toBe('/a/b/');
    expect(pagePath(new URL('http://localhost:3000/x'), plain)).toBe('/x');
  });

  it('keeps the path percent-encoded, as location.pathname gives it', () => {
    expect(pagePath('https://example.com/café', plain)).toBe('/caf%C3%A9');
    expect(pagePath('https://example.com/caf%C3%A9', plain)).toBe('/caf%C3%A9');
    expect(pagePath('https://example.com/a%2Fb', plain)).toBe('/a%2Fb');
    expect(pagePath('https://example.com/a b', plain)).toBe('/a%20b');
    expect(pagePath('https://example.com/a/../b', plain)).toBe('/b');
  });

  it('adds the fragment, without its own query, only with hash routing', () => {
    expect(pagePath('https://example.com/#/settings', plain)).toBe('/');
    expect(pagePath('https://example.com/#/settings', hash)).toBe('/#/settings');
    expect(pagePath('https://example.com/app/#/users/7?tab=2', hash)).toBe('/app/#/users/7');
    expect(pagePath('https://example.com/?x=1#/a', hash)).toBe('/#/a');
    expect(pagePath('https://example.com/#', hash)).toBe('/');
    expect(pagePath('https://example.com/#?x=1', hash)).toBe('/');
    expect(pagePath('https://example.com/', hash)).toBe('/');
  });

  it('is null for what is not an http(s) URL', () => {
    for (const u of ['', '/relative', 'example.com/x', 'ftp://example.com/x', 'javascript:alert(1)', 'data:text/html,hi', 'file:///etc/passwd', 'http://']) {
      expect({ u, path: pagePath(u, plain) }).toEqual({ u, path: null });
    }
  });
});

describe('pageHost', () => {
  it('is the lower-case host without port or www', () => {
    expect(pageHost('https://WWW.Example.COM:8443/x')).toBe('example.com');
    expect(pageHost('https://blog.example.com/')).toBe('blog.example.com');
    expect(pageHost('http://localhost:3000/')).toBe('localhost');
    expect(pageHost('https://example.com./')).toBe('example.com');
    expect(pageHost('mailto:a@b.c')).toBeNull();
    expect(pageHost('garbage')).toBeNull();
  });
});
