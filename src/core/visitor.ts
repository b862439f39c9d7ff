// Visitor identity. A visitor is either given by the sender (`user_id`, counted as given) or, for
// browsers, a keyed hash of (daily salt, site, IP, user agent): the salt changes every day and is
// deleted two days later, so hashes cannot be linked across days and the IP is never kept.
// Encoded as one string so that stores key visitors without knowing their kind.
import { hash, randomBytes } from 'node:crypto';

/** `u:` given user id · `h:` daily hash · `o:` one-off (no salt left for a very late event). */
export type VisitorKind = 'given' | 'hashed' | 'one-off';

export const givenVisitor = (userId: string) => `u:${userId}`;

/**
 * SHA-256 over the secret salt and the request's identity, truncated to 128 bits (a collision
 * among a site's daily visitors is far less likely than one in a billion). The salt is a secret
 * 32-byte random value, so the hash cannot be recomputed from a guessed IP without it.
 */
export function hashedVisitor(salt: string, siteId: string, ip: string, userAgent: string): string {
  const digest = hash('sha256', `${salt}\u0000${siteId}\u0000${ip}\u0000${userAgent}`, 'base64url');
  return `h:${digest.slice(0, 22)}`;
}

export const oneOffVisitor = () => `o:${randomBytes(16).toString('base64url')}`;

export function visitorKind(key: string): VisitorKind {
  return key.startsWith('u:') ? 'given' : key.startsWith('h:') ? 'hashed' : 'one-off';
}

/** The sender's user id, for given visitors only (raw events keep it, as the spec's `user_id`). */
export function userIdOf(key: string): string | null {
  return key.startsWith('u:') ? key.slice(2) : null;
}
