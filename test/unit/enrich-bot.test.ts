import { describe, expect, it } from 'vitest';
import { botReason, isBot } from '../../src/enrich/bot.js';

const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';

describe('isBot', () => {
  it('treats a missing or blank user agent as a bot', () => {
    expect(botReason(undefined)).toBe('empty_user_agent');
    expect(botReason(null)).toBe('empty_user_agent');
    expect(botReason('')).toBe('empty_user_agent');
    expect(botReason('   ')).toBe('empty_user_agent');
    expect(isBot(undefined)).toBe(true);
  });

  it('flags HTTP clients, headless browsers and crawlers', () => {
    for (const ua of [
      'curl/8.5.0',
      'Wget/1.21.4',
      'python-requests/2.32.3',
      'Go-http-client/1.1',
      'PostmanRuntime/7.42.0',
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36',
      'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
      'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)',
      'Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)',
      'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)',
    ]) {
      expect({ ua, reason: botReason(ua) }).toEqual({ ua, reason: 'bot_user_agent' });
      expect(isBot(ua)).toBe(true);
    }
  });

  it('lets mainstream browsers through', () => {
    for (const ua of [
      CHROME,
      IPHONE,
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0',
      'Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36',
    ]) {
      expect({ ua, bot: isBot(ua) }).toEqual({ ua, bot: false });
      expect(botReason(ua)).toBeNull();
    }
  });
});
