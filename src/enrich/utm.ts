// UTM tags from the page URL's query string (not its fragment), decoded as URLSearchParams does
// ("+" is a space, %XX decoded), trimmed, case kept, cut to a bounded length.
import { boundedText } from './text.js';

export const MAX_UTM_LENGTH = 256;

export interface Utm {
  utm_source: string | null;
  utm_medium: string | null;
  utm_campaign: string | null;
  utm_term: string | null;
  utm_content: string | null;
}

const NONE: Utm = Object.freeze({ utm_source: null, utm_medium: null, utm_campaign: null, utm_term: null, utm_content: null });

export function utmOf(url: URL | string | undefined | null, maxLength: number = MAX_UTM_LENGTH): Utm {
  if (url === undefined || url === null || url === '') return NONE;
  let params: URLSearchParams;
  if (url instanceof URL) params = url.searchParams;
  else {
    // A string without a query string has no tags: skip the URL parser on the common path.
    if (!url.includes('?')) return NONE;
    try {
      params = new URL(url).searchParams;
    } catch {
      return NONE;
    }
  }
  if (params.size === 0) return NONE;
  return {
    utm_source: boundedText(params.get('utm_source'), maxLength),
    utm_medium: boundedText(params.get('utm_medium'), maxLength),
    utm_campaign: boundedText(params.get('utm_campaign'), maxLength),
    utm_term: boundedText(params.get('utm_term'), maxLength),
    utm_content: boundedText(params.get('utm_content'), maxLength),
  };
}
