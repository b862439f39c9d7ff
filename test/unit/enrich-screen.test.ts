import { describe, expect, it } from 'vitest';
import { screenClass } from '../../src/enrich/screen.js';

describe('screenClass', () => {
  it('uses the breakpoints 576, 992 and 1440', () => {
    expect(screenClass(1)).toBe('mobile');
    expect(screenClass(390)).toBe('mobile');
    expect(screenClass(575)).toBe('mobile');
    expect(screenClass(575.5)).toBe('mobile');
    expect(screenClass(576)).toBe('tablet');
    expect(screenClass(991)).toBe('tablet');
    expect(screenClass(992)).toBe('laptop');
    expect(screenClass(1439)).toBe('laptop');
    expect(screenClass(1440)).toBe('desktop');
    expect(screenClass(3840)).toBe('desktop');
  });

  it('gives null for what is not a width', () => {
    for (const w of [undefined, null, 0, -1, NaN, Infinity, -Infinity, 100_001]) expect(screenClass(w)).toBeNull();
    expect(screenClass('1024' as unknown as number)).toBeNull();
  });
});
