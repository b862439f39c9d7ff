// The tracker: a pageview on load and on every SPA navigation, custom events through
// `wa.track(name, props)`, outbound-link clicks. Built by tracker/build.mjs to dist/tracker/script.js
// and served as /script.js; it must stay at most 1,024 bytes gzipped (test/tracker-size.test.ts).
//
// It sends a text/plain string body (sendBeacon, else fetch keepalive): a CORS-safelisted request,
// so a collector on another origin sees no preflight. It sets no cookie, writes no storage and reads
// nothing about the device beyond the screen width and the language.

type Props = Record<string, string | number | boolean>;
type Track = (name: string, props?: Props) => void;
/** `window.wa`: the stub the site owner pastes queues calls in `q` until the script replaces it. */
interface Wa {
  track: Track;
  q?: ArrayLike<unknown>[];
}

((w: Window & { wa?: Wa }, d: Document, l: Location) => {
  const script = (d.currentScript || d.querySelector('script[data-site]')) as HTMLScriptElement | null;
  if (!script) return;
  const data = script.dataset;
  const hash = data.hash != null;
  const endpoint = (data.api || new URL(script.src).origin).replace(/\/$/, '') + '/api/event?api_key=' + encodeURIComponent(data.key!);
  let last: string | undefined;
  // The page URL: the fragment belongs to it only with hash routing.
  const here = () => (hash ? l.href : l.href.split('#')[0]);

  const send = (event_type: string, props?: Props) => {
    // The site owner's opt-out (see the README); reading localStorage throws in some privacy modes.
    try {
      if (localStorage.wa_ignore == 'true') return;
    } catch {}
    const body = JSON.stringify({
      site_id: data.site,
      event_type,
      url: here(),
      referrer: d.referrer || undefined,
      screen_width: screen.width,
      language: navigator.language,
      props,
      // Tells the API that the fragment is part of the page's path.
      hash_routing: hash || undefined,
      // Lets the API count a retried event once (randomUUID exists in secure contexts only).
      event_id: crypto.randomUUID?.(),
    });
    if (!navigator.sendBeacon?.(endpoint, body)) fetch(endpoint, { method: 'POST', body, keepalive: true }).catch(() => {});
  };

  // Never the same URL twice in a row: a replaceState that keeps the URL, or a fragment change
  // without data-hash, sends nothing.
  const page = () => {
    const url = here();
    if (url != last) {
      last = url;
      send('pageview');
    }
  };

  const track: Track = (name, props) => send(name, props);

  for (const k of ['pushState', 'replaceState'] as const) {
    const original = history[k];
    history[k] = function (this: History, ...args: Parameters<History['pushState']>) {
      original.apply(this, args);
      page();
    };
  }
  w.addEventListener('popstate', page);
  if (hash) w.addEventListener('hashchange', page);

  if (data.outbound != null) {
    // Left and middle clicks on a link to another host; the beacon survives the navigation.
    const outbound = (e: MouseEvent) => {
      const a = (e.target as Element).closest?.('a') as HTMLAnchorElement | null;
      if (a && e.button < 2 && /^http/.test(a.protocol) && a.host != l.host) track('outbound', { url: a.href });
    };
    d.addEventListener('click', outbound);
    d.addEventListener('auxclick', outbound);
  }

  const queued = w.wa?.q || [];
  w.wa = { track };
  const start = () => {
    page();
    // Calls made through the stub before the script loaded, after the pageview they happened on.
    for (const args of queued) track(args[0] as string, args[1] as Props | undefined);
  };
  // A page prerendered by the browser is counted when (and only if) it is shown.
  if ((d as Document & { prerendering?: boolean }).prerendering) d.addEventListener('prerenderingchange', start, { once: true });
  else start();
})(window, document, location);
