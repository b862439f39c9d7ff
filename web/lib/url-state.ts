// The view's state lives in the URL's query string, so a view can be bookmarked and the browser's
// back and forward buttons move between periods.
'use client';
import { useCallback, useSyncExternalStore } from 'react';

function subscribe(onChange: () => void): () => void {
  window.addEventListener('popstate', onChange);
  window.addEventListener('wa:navigate', onChange);
  return () => {
    window.removeEventListener('popstate', onChange);
    window.removeEventListener('wa:navigate', onChange);
  };
}

const snapshot = () => window.location.pathname + window.location.search;
const serverSnapshot = () => '';

/** The current path and query; '' while pre-rendering. */
export function useLocation(): { pathname: string; params: URLSearchParams; ready: boolean } {
  const loc = useSyncExternalStore(subscribe, snapshot, serverSnapshot);
  const q = loc.indexOf('?');
  return {
    pathname: q < 0 ? loc : loc.slice(0, q),
    params: new URLSearchParams(q < 0 ? '' : loc.slice(q)),
    ready: loc !== '',
  };
}

/** Sets some query parameters (undefined removes one) as a new history entry. */
export function useNavigate(): (changes: Record<string, string | undefined>, replace?: boolean) => void {
  return useCallback((changes, replace = false) => {
    const params = new URLSearchParams(window.location.search);
    for (const [k, v] of Object.entries(changes)) {
      if (v === undefined) params.delete(k);
      else params.set(k, v);
    }
    const qs = params.toString();
    const url = window.location.pathname + (qs ? `?${qs}` : '');
    if (url === snapshot()) return;
    if (replace) window.history.replaceState(window.history.state, '', url);
    else window.history.pushState(window.history.state, '', url);
    window.dispatchEvent(new Event('wa:navigate'));
  }, []);
}
