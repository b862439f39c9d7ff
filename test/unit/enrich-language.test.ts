import { describe, expect, it } from 'vitest';
import { languageOf } from '../../src/enrich/language.js';

describe('languageOf', () => {
  it('takes the primary subtag in lower case', () => {
    expect(languageOf('en-US', undefined)).toBe('en');
    expect(languageOf('EN', undefined)).toBe('en');
    expect(languageOf('zh-Hant-TW', undefined)).toBe('zh');
    expect(languageOf('pt_BR', undefined)).toBe('pt');
    expect(languageOf('fil-PH', undefined)).toBe('fil');
    expect(languageOf(' de ', undefined)).toBe('de');
  });

  it('reads the preferred language of an Accept-Language header', () => {
    expect(languageOf(undefined, 'pt-BR,pt;q=0.9')).toBe('pt');
    expect(languageOf(undefined, 'fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5')).toBe('fr');
    expect(languageOf(undefined, 'en;q=0.5, de;q=0.9')).toBe('de');
    expect(languageOf(undefined, 'en;q=0.8, de;q=0.8')).toBe('en');
    expect(languageOf(undefined, '*, es;q=0.5')).toBe('es');
    expect(languageOf(undefined, 'ja;q=0, ko')).toBe('ko');
    expect(languageOf(undefined, 'en;q=abc, de;q=0.9')).toBe('en'); // a malformed q counts as absent (1)
    expect(languageOf(undefined, 'en;q=0.5, de;q=7')).toBe('de');
  });

  it('prefers the body, and falls back to the header when the body is not a language', () => {
    expect(languageOf('de-DE', 'en-US,en;q=0.9')).toBe('de');
    expect(languageOf('english', 'en-US,en;q=0.9')).toBe('en');
    expect(languageOf('', 'nl')).toBe('nl');
  });

  it('gives null for *, q=0 only, and garbage', () => {
    expect(languageOf(undefined, undefined)).toBeNull();
    expect(languageOf(undefined, '*')).toBeNull();
    expect(languageOf(undefined, 'en;q=0')).toBeNull();
    expect(languageOf('x-klingon', undefined)).toBeNull();
    expect(languageOf('i-klingon', undefined)).toBeNull();
    expect(languageOf('12', undefined)).toBeNull();
    expect(languageOf('e', undefined)).toBeNull();
    expect(languageOf('<script>', '<script>')).toBeNull();
    expect(languageOf(undefined, ';;;,,,')).toBeNull();
  });
});
