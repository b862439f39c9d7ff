// Enrichment: pure, synchronous functions from what a browser sends to dimension values.
export { botReason, isBot, type BotReason } from './bot.js';
export { countryDbPath, countryOf, isPublicIp, loadCountryDb } from './country.js';
export { lookupAddress, type LookupAddress } from './ip.js';
export { languageOf } from './language.js';
export { pageHost, pagePath, type PageOptions } from './page.js';
export { knownReferrer, loadReferrers, referrerHost, sourceOf, type KnownReferrer } from './referrer.js';
export { screenClass, type ScreenClass } from './screen.js';
export {
  DEFAULT_UA_CACHE_SIZE, MAX_USER_AGENT_LENGTH, UserAgentParser, parseUserAgent, parseUserAgentUncached,
  type DeviceType, type UserAgentInfo,
} from './user-agent.js';
export { MAX_UTM_LENGTH, utmOf, type Utm } from './utm.js';
