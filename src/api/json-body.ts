// The one JSON body parser, for `application/json` and for `text/plain` (navigator.sendBeacon posts
// strings as text/plain). One rule for both: valid JSON, and no member that could poison an
// object prototype when the body is later merged somewhere (`__proto__`, or `constructor` holding
// `prototype`). Such a body is valid JSON, so it is refused as a validation failure that names the
// member, not as "Invalid JSON".
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError, validationFailed } from './errors.js';

/** The path of the first member that is refused, or undefined. Iterative: any depth is fine. */
export function forbiddenMember(value: unknown): string | undefined {
  const stack: [unknown, string][] = [[value, '']];
  while (stack.length > 0) {
    const [node, path] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) stack.push([node[i], `${path}${path ? '.' : ''}${i}`]);
      continue;
    }
    for (const key of Object.keys(node)) {
      const child = (node as Record<string, unknown>)[key];
      const at = path ? `${path}.${key}` : key;
      if (key === '__proto__') return at;
      if (key === 'constructor' && child !== null && typeof child === 'object' && Object.hasOwn(child, 'prototype')) return `${at}.prototype`;
      stack.push([child, at]);
    }
  }
  return undefined;
}

export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw new ApiError(400, 'Invalid JSON', 'The request body is empty; send a JSON object');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ApiError(400, 'Invalid JSON', `The request body is not valid JSON: ${(err as Error).message}`);
  }
  const member = forbiddenMember(value);
  if (member !== undefined) {
    throw validationFailed([
      { field: member, message: `the member "${member}" is refused: "__proto__", and "constructor" holding "prototype", are not accepted anywhere in a body` },
    ]);
  }
  return value;
}

/** Replaces Fastify's parsers: the same parser and rule whatever the content type. */
export function registerJsonParsers(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  const parse = (_req: FastifyRequest, body: string | Buffer, done: (err: Error | null, value?: unknown) => void) => {
    try {
      done(null, parseJsonBody(typeof body === 'string' ? body : body.toString('utf8')));
    } catch (err) {
      done(err as Error);
    }
  };
  app.addContentTypeParser(['application/json', 'text/plain'], { parseAs: 'string' }, parse);
}
