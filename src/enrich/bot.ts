// Crawler, headless-browser and HTTP-library traffic, recognised by `isbot` (Unlicense), a maintained
// list of bot patterns. A missing or blank user agent is a bot too: every browser sends one.
// Whether a step applies this rule to an event (e.g. not to server-side events that carry a user_id)
// is the caller's decision.
import { isbot } from 'isbot';

export type BotReason = 'empty_user_agent' | 'bot_user_agent';

/** Why this user agent counts as a bot, or `null` for a browser. */
export function botReason(userAgent: string | undefined | null): BotReason | null {
  if (userAgent === undefined || userAgent === null || userAgent.trim() === '') return 'empty_user_agent';
  return isbot(userAgent) ? 'bot_user_agent' : null;
}

export function isBot(userAgent: string | undefined | null): boolean {
  return botReason(userAgent) !== null;
}
