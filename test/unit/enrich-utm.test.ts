import { describe, expect, it } from 'vitest';
import { MAX_UTM_LENGTH, utmOf } from '../../src/enrich/utm.js';

const none = { utm_source: null, utm_medium: null, utm_campaign: null, utm_term: null, utm_content: null };

describe('utmOf', () => {
  it('reads the five tags from the query string', () => {
    expect(
      utmOf('https://example.com/p?utm_source=newsletter&utm_medium=email&utm_campaign=spring%20sale&utm_term=shoes+red&utm_content=top'),
    ).toEqual({ utm_source: 'newsletter', utm_medium: 'email', utm_campaign: 'spring sale', utm_term: 'shoes red', utm_content: 'top' });
    expect(utmOf(new URL('https://example.com/?utm_source=Twitter&x=1'))).toEqual({ ...none, utm_source: 'Twitter' });
  });

  it('trims, turns empty into null, keeps case, and takes the first of repeated tags', () => {
    expect(utmOf('https://e.com/?utm_source=%20%20&utm_medium=&utm_campaign=%20Launch%20&utm_source=second')).toEqual({
      ...none,
      utm_campaign: 'Launch',
    });
    expect(utmOf('https://e.com/?utm_source=a&utm_source=b').utm_source).toBe('a');
  });

  it('bounds the length without splitting a character', () => {
    const long = 'x'.repeat(MAX_UTM_LENGTH + 50);
    expect(utmOf(`https://e.com/?utm_source=${long}`).utm_source).toBe('x'.repeat(MAX_UTM_LENGTH));
    const emoji = 'x'.repeat(MAX_UTM_LENGTH - 1) + '😀';
    expect(utmOf(`https://e.com/?utm_source=${encodeURIComponent(emoji)}`).utm_source).toBe('x'.repeat(MAX_UTM_LENGTH - 1));
    expect(utmOf('https://e.com/?utm_source=abcdef', 3).utm_source).toBe('abc');
  });

  it('ignores tags in the fragment and has none for absent or unparsable URLs', () => {
    expect(utmOf('https://e.com/#/page?utm_source=x')).toEqual(none);
    expect(utmOf('https://e.com/page')).toEqual(none);
    expect(utmOf(undefined)).toEqual(none);
    expect(utmOf('')).toEqual(none);
    expect(utmOf('not a url?utm_source=x')).toEqual(none);
    expect(utmOf('https://e.com/?UTM_SOURCE=x')).toEqual(none);
  });
});
