// Cost per call of each enrichment step, to decide which run in the API and which in the worker.
// Run: npx tsx bench/dev/enrich.ts   (MS=budget per step in ms, default 400)
// Inputs cycle through the fixed table of test/helpers/enrich-table.ts.
import { performance } from 'node:perf_hooks';
import { BOTS, BROWSERS, IPS, LANGUAGES, REFERRERS, URLS } from '../../test/helpers/enrich-table.js';

const BUDGET_MS = Number(process.env.MS ?? 400);

const t0 = performance.now();
const enrich = await import('../../src/enrich/index.js');
const importMs = performance.now() - t0;
const {
  botReason, countryOf, languageOf, loadCountryDb, loadReferrers, pageHost, pagePath, parseUserAgentUncached,
  referrerHost, screenClass, sourceOf, utmOf, UserAgentParser,
} = enrich;

function once(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}
const startup = {
  'import src/enrich (isbot pattern, parser code)': importMs,
  'loadCountryDb() (read 8 MB .mmdb)': once(loadCountryDb),
  'loadReferrers() (parse referrers.json, build Map)': once(loadReferrers),
  'first UA parse in the process': once(() => parseUserAgentUncached(BROWSERS[0]!.ua)),
};

let sink = 0; // keeps results alive so the calls are not optimised away
const keep = (v: unknown) => {
  if (v !== null && v !== undefined) sink++;
};

/** ns per call of `fn(i)`, after a warm-up, over batches until the budget is spent. */
function measure(fn: (i: number) => unknown): number {
  for (let i = 0; i < 20_000; i++) keep(fn(i));
  let calls = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < BUDGET_MS) {
    for (let i = 0; i < 10_000; i++) keep(fn(calls + i));
    calls += 10_000;
    elapsed = performance.now() - start;
  }
  return (elapsed * 1e6) / calls;
}

const browserUas = BROWSERS.map((b) => b.ua);
const allUas = [...browserUas, ...BOTS.map((b) => b.ua)];
const ips4 = IPS.filter((r) => r.country !== null && !r.ip.includes(':')).map((r) => r.ip);
const ips6 = IPS.filter((r) => r.country !== null && r.ip.includes(':') && !r.ip.startsWith('::ffff:')).map((r) => r.ip);
const ipsMapped = IPS.filter((r) => r.ip.startsWith('::ffff:')).map((r) => r.ip);
const ipsPrivate = IPS.filter((r) => r.country === null).map((r) => r.ip);
const referrers = REFERRERS.map((r) => r.referrer);
const hosts = REFERRERS.map((r) => referrerHost(r.referrer, 'example.com'));
const urls = URLS.map((u) => u.url);
const urlsNoQuery = urls.filter((u) => !u.includes('?'));
const headers = ['en-US,en;q=0.9', 'pt-BR,pt;q=0.9,en;q=0.8', 'fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5', 'de'];
const at = <T>(list: T[], i: number): T => list[i % list.length]!;

const cached = new UserAgentParser(10_000);
for (const ua of browserUas) cached.parse(ua);
const churn = new UserAgentParser(1_000);
let unique = 0;

const rows: Array<[string, number]> = [
  ['botReason (isbot), browsers', measure((i) => botReason(at(browserUas, i)))],
  ['botReason (isbot), mixed incl. bots', measure((i) => botReason(at(allUas, i)))],
  ['parseUserAgent cold (uncached parse)', measure((i) => parseUserAgentUncached(at(browserUas, i)))],
  ['parseUserAgent cached hit (LRU)', measure((i) => cached.parse(at(browserUas, i)))],
  ['parseUserAgent miss + insert + evict (bound 1,000)', measure(() => churn.parse(`${browserUas[0]} r/${unique++}`))],
  ['referrerHost', measure((i) => referrerHost(at(referrers, i), 'example.com'))],
  ['sourceOf (Map + parent domains)', measure((i) => sourceOf(at(hosts, i), null))],
  ['utmOf, URL with a query string', measure((i) => utmOf(at(urls, i)))],
  ['utmOf, URL without a query string', measure((i) => utmOf(at(urlsNoQuery, i)))],
  ['pagePath', measure((i) => pagePath(at(urls, i), { hashRouting: false }))],
  ['pageHost', measure((i) => pageHost(at(urls, i)))],
  ['new URL(page url) (to share between the three above)', measure((i) => new URL(at(urls, i)))],
  ['countryOf, public IPv4', measure((i) => countryOf(at(ips4, i)))],
  ['countryOf, public IPv6', measure((i) => countryOf(at(ips6, i)))],
  ['countryOf, ::ffff: mapped', measure((i) => countryOf(at(ipsMapped, i)))],
  ['countryOf, private/invalid', measure((i) => countryOf(at(ipsPrivate, i)))],
  ['languageOf, header only', measure((i) => languageOf(undefined, at(headers, i)))],
  ['languageOf, body', measure((i) => languageOf(at(LANGUAGES, i).body ?? 'en-US', undefined))],
  ['screenClass', measure((i) => screenClass(320 + (i % 2000)))],
  [
    'all steps for one event (UA cached, URL parsed once)',
    measure((i) => {
      const ua = at(browserUas, i);
      const url = new URL(at(urls, i)); // parsed once for pageHost, pagePath and utmOf
      const host = referrerHost(at(referrers, i), pageHost(url));
      const utm = utmOf(url);
      return [botReason(ua), cached.parse(ua), host, sourceOf(host, utm.utm_source), pagePath(url, { hashRouting: false }),
        countryOf(at(ips4, i)), languageOf(undefined, at(headers, i)), screenClass(1280)];
    }),
  ],
];

console.log(`Node ${process.version}, budget ${BUDGET_MS} ms per step\n`);
console.log('one-time costs (ms):');
for (const [name, ms] of Object.entries(startup)) console.log(`  ${name.padEnd(52)} ${ms.toFixed(1).padStart(8)}`);
console.log(`\n${'step'.padEnd(54)} ${'ns/op'.padStart(8)} ${'ops/s'.padStart(12)}`);
for (const [name, ns] of rows) console.log(`${name.padEnd(54)} ${ns.toFixed(0).padStart(8)} ${Math.round(1e9 / ns).toLocaleString('en-US').padStart(12)}`);
console.log(`\n(${sink > 0 ? 'results kept' : ''}; heap used ${Math.round(process.memoryUsage().heapUsed / 1e6)} MB, rss ${Math.round(process.memoryUsage().rss / 1e6)} MB)`);
