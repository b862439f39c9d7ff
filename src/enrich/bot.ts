// PLACEHOLDER until the enrich branch lands (replaced by its isbot-based module).
export function isBot(userAgent: string | undefined): boolean {
  return !userAgent || /bot|crawl|spider|curl|headless/i.test(userAgent);
}
