// Country names and flags from the ISO 3166-1 alpha-2 code alone: names from the browser's own
// Intl.DisplayNames, flags as a pair of regional-indicator characters. Nothing is downloaded.

let names: Intl.DisplayNames | undefined;

export function countryName(code: string | null): string {
  if (!code) return 'Unknown';
  if (!/^[A-Za-z]{2}$/.test(code)) return code;
  try {
    names ??= new Intl.DisplayNames(undefined, { type: 'region' });
    return names.of(code.toUpperCase()) ?? code;
  } catch {
    return code;
  }
}

/** The flag of a country code; empty for an unknown country (no placeholder glyph). */
export function flagEmoji(code: string | null): string {
  if (!code || !/^[A-Za-z]{2}$/.test(code)) return '';
  const base = 0x1f1e6 - 'A'.charCodeAt(0);
  const up = code.toUpperCase();
  return String.fromCodePoint(base + up.charCodeAt(0), base + up.charCodeAt(1));
}
