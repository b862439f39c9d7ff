// The visitor's language as a primary subtag (`en-US` → `en`), from the body's `language`
// (the tracker sends `navigator.language`) or else the Accept-Language header.

const PRIMARY = /^[a-z]{2,3}$/;

/** The primary subtag of one BCP 47 tag, lower case, or null unless it is 2–3 letters. */
function primarySubtag(tag: string): string | null {
  const t = tag.trim();
  const end = t.search(/[-_]/);
  const primary = (end < 0 ? t : t.slice(0, end)).toLowerCase();
  return PRIMARY.test(primary) ? primary : null;
}

/** The most preferred valid language of an Accept-Language header (highest q, first on a tie). */
function fromAcceptLanguage(header: string): string | null {
  let best: string | null = null;
  let bestQ = 0;
  // Browsers send a handful of entries; a long header is not worth reading past the first few.
  const entries = header.slice(0, 1024).split(',', 32);
  for (const entry of entries) {
    const [tag = '', ...params] = entry.split(';');
    let q = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(p);
      const value = m ? Number(m[1]) : NaN;
      if (value >= 0 && value <= 1) q = value; // a malformed q is ignored, as if absent
    }
    if (!(q > bestQ)) continue; // q=0 means "not acceptable"
    const lang = primarySubtag(tag);
    if (lang === null) continue; // "*" and garbage
    if (q === 1) return lang; // nothing later can be preferred
    best = lang;
    bestQ = q;
  }
  return best;
}

/** The body's language when it is valid, else the header's preferred one, else null. */
export function languageOf(bodyLanguage: string | undefined | null, acceptLanguage: string | undefined | null): string | null {
  if (bodyLanguage) {
    const lang = primarySubtag(bodyLanguage.slice(0, 64));
    if (lang !== null) return lang;
  }
  return acceptLanguage ? fromAcceptLanguage(acceptLanguage) : null;
}
