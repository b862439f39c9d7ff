// Crawler, headless-browser and HTTP-library traffic, recognised by `isbot` (Unlicense), a maintained
// list of bot patterns. A missing or blank user agent is a bot too: every browser sends one.
// Whether a step applies this rule to an event (e.g. not to server-side events that carry a user_id)
// is the caller's decision.
import { isbot } from 'isbot';

export type BotReason = 'empty_user_agent' | 'bot_user_agent';

/** Why this user agent counts as a bot, or `null` for a browser. */
export function botReason(userAgent: string | undefined | null): BotReason | null {
  if (userAgent === undefined || userAgent === null || userAgent.trim() === '') return 'empty_user_agent';
  return knownBot(userAgent) ? 'bot_user_agent' : null;
}

// isbot's pattern costs ~2.5 µs a request; real traffic repeats a few thousand user agents. A
// bounded memo (cleared when full, so a client sending endless new user agents only costs itself).
const MEMO_MAX = 20_000;
const MEMO_KEY_MAX = 512;
const memo = new Map<string, boolean>();

function knownBot(userAgent: string): boolean {
  const seen = memo.get(userAgent);
  if (seen !== undefined) return seen;
  const bot = isbot(userAgent);
  if (userAgent.length <= MEMO_KEY_MAX) {
    if (memo.size >= MEMO_MAX) memo.clear();
    memo.set(userAgent, bot);
  }
  return bot;
}

export function isBot(userAgent: string | undefined | null): boolean {
  return botReason(userAgent) !== null;
}
