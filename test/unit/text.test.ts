// Issue 9, item 2: the storable-text rule, one place for every string field.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { escapeUnstorable, isStorableText, storableText, unstorableReason } from '../../src/core/text.js';

describe('storable text', () => {
  it('refuses NUL and unpaired surrogates, anywhere in the string', () => {
    for (const bad of ['\u0000', 'a\u0000', '/p\u0000x', '\ud800', 'x\udfff', '\udc00\ud800', 'ok\ud83d', '\ude00ok']) {
      expect(isStorableText(bad), JSON.stringify(bad)).toBe(false);
    }
    expect(unstorableReason('ab\u0000')).toBe('must not contain a NUL character (U+0000, at position 2)');
    expect(unstorableReason('a\ud800')).toMatch(/unpaired surrogate \(U\+D800, at position 1\)/);
  });

  it('keeps every well-formed string: pairs, emoji, noncharacters, control characters, any script', () => {
    for (const good of ['', '/home', '😀', '\ud83d\ude00', '日本語', '\uffff', '\ufdd0', '\u0001\u001f\u007f', 'é', 'e\u0301', '𝔘']) {
      expect(isStorableText(good), JSON.stringify(good)).toBe(true);
    }
  });

  it('is a zod refinement naming the field', () => {
    const schema = z.object({ path: z.string().refine(...storableText('path')) });
    const r = schema.safeParse({ path: '/a\u0000' });
    expect(r.error?.issues).toEqual([expect.objectContaining({ path: ['path'], message: 'path must not contain a NUL character (U+0000, at position 2)' })]);
    expect(schema.safeParse({ path: '/ok' }).success).toBe(true);
  });

  it('escapes what it refuses, for keeping and printing rejected values', () => {
    expect(escapeUnstorable('a\u0000b\ud800c😀')).toBe('a\\u0000b\\ud800c😀');
  });
});
