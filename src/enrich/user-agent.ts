// Browser, OS and device class from a User-Agent header, with `ua-parser-js` 1.0.x (MIT; 2.x is
// AGPL-3.0 and must not be used). Names are folded to what a dashboard shows; a parse costs ~10 µs,
// so results are kept in a bounded LRU cache keyed by the user agent.
import { UAParser } from 'ua-parser-js';

export type DeviceType = 'desktop' | 'mobile' | 'tablet' | 'console' | 'tv' | 'wearable' | 'embedded';

export interface UserAgentInfo {
  browser: string | null;
  os: string | null;
  device: DeviceType | null;
}

/** The parser reads at most this many characters (its own limit), so longer keys would only waste memory. */
export const MAX_USER_AGENT_LENGTH = 500;
export const DEFAULT_UA_CACHE_SIZE = 10_000;

const UNKNOWN: UserAgentInfo = Object.freeze({ browser: null, os: null, device: null });

// The parser's names that a dashboard shows differently. The device dimension already says "mobile",
// so "Mobile Safari" is Safari; unlisted names pass through as the parser gives them.
const BROWSER_NAMES: ReadonlyMap<string, string> = new Map([
  ['mobile safari', 'Safari'],
  ['mobile chrome', 'Chrome'],
  ['mobile firefox', 'Firefox'],
  ['chrome headless', 'Headless Chrome'],
  ['ie', 'Internet Explorer'],
  ['iemobile', 'Internet Explorer'],
  ['yandex', 'Yandex Browser'],
  ['gsa', 'Google App'],
  ['opera mobi', 'Opera'],
]);

// Linux distributions are shown as Linux: few user agents name one, and splitting Linux by which ones
// do is noise on a dashboard.
const LINUX_NAMES = [
  'linux', 'gnu', 'ubuntu', 'kubuntu', 'xubuntu', 'lubuntu', 'debian', 'suse', 'opensuse', 'gentoo',
  'arch', 'slackware', 'fedora', 'mandriva', 'centos', 'pclinuxos', 'red hat', 'redhat', 'zenwalk',
  'linpus', 'raspbian', 'deepin', 'manjaro', 'elementary os', 'sabayon', 'linspire', 'mint', 'mageia',
  'vectorlinux',
];
const OS_NAMES: ReadonlyMap<string, string> = new Map([
  ['windows', 'Windows'],
  ['mac os', 'macOS'],
  ['macos', 'macOS'],
  ['ios', 'iOS'],
  ['android', 'Android'],
  ['chromium os', 'ChromeOS'],
  ['chrome os', 'ChromeOS'],
  ...LINUX_NAMES.map((n): [string, string] => [n, 'Linux']),
]);

// A user agent with no device type on one of these systems is a desktop (or laptop) computer.
const DESKTOP_OS = new Set(['Windows', 'macOS', 'Linux', 'ChromeOS', 'Solaris', 'Haiku', 'Unix']);
const isDesktopOs = (os: string): boolean => DESKTOP_OS.has(os) || /bsd$|^dragonfly$/i.test(os);

const DEVICE_TYPES: ReadonlyMap<string, DeviceType> = new Map([
  ['mobile', 'mobile'],
  ['tablet', 'tablet'],
  ['console', 'console'],
  ['smarttv', 'tv'],
  ['wearable', 'wearable'],
  ['embedded', 'embedded'],
]);

function browserName(name: string | undefined): string | null {
  if (!name) return null;
  return BROWSER_NAMES.get(name.toLowerCase()) ?? name;
}

function osName(name: string | undefined): string | null {
  if (!name) return null;
  return OS_NAMES.get(name.toLowerCase()) ?? name;
}

/** Parses without the cache. */
export function parseUserAgentUncached(userAgent: string): UserAgentInfo {
  const ua = userAgent.slice(0, MAX_USER_AGENT_LENGTH);
  // Never hand the parser an empty string: it would fall back to `navigator.userAgent`, which
  // Node 21+ defines (as "Node.js/21").
  if (ua.trim() === '') return UNKNOWN;
  const r = new UAParser(ua).getResult();
  const browser = browserName(r.browser.name);
  const os = osName(r.os.name);
  const type = r.device.type ? (DEVICE_TYPES.get(r.device.type) ?? null) : null;
  const device = type ?? (os !== null && isDesktopOs(os) ? 'desktop' : null);
  return Object.freeze({ browser, os, device });
}

/**
 * A cached parser. Holds at most `maxEntries` user agents (each cut to 500 characters), evicting the
 * least recently used. The results are frozen: callers share them.
 */
export class UserAgentParser {
  // A Map iterates in insertion order: re-inserting on a hit keeps the least recent key first.
  private readonly cache = new Map<string, UserAgentInfo>();

  constructor(readonly maxEntries: number = DEFAULT_UA_CACHE_SIZE) {
    if (!Number.isInteger(maxEntries) || maxEntries < 0) throw new RangeError('maxEntries must be a non-negative integer');
  }

  /** How many user agents the cache holds now. */
  get size(): number {
    return this.cache.size;
  }

  parse(userAgent: string): UserAgentInfo {
    const key = userAgent.length > MAX_USER_AGENT_LENGTH ? userAgent.slice(0, MAX_USER_AGENT_LENGTH) : userAgent;
    const hit = this.cache.get(key);
    if (hit !== undefined) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    const info = parseUserAgentUncached(key);
    if (this.maxEntries > 0) {
      if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(key, info);
    }
    return info;
  }
}

const shared = new UserAgentParser();

/** Parses with the process-wide cache (default bound); `new UserAgentParser(n)` for another bound. */
export function parseUserAgent(userAgent: string): UserAgentInfo {
  return shared.parse(userAgent);
}
