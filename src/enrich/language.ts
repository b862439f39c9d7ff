// PLACEHOLDER until the enrich branch lands.
export function languageOf(bodyLanguage: string | undefined, acceptLanguage: string | undefined): string | null {
  const m = /^([a-zA-Z]{2,3})(?:[-_,;]|$)/.exec((bodyLanguage || acceptLanguage || '').trim());
  return m ? m[1]!.toLowerCase() : null;
}
