// The web dashboard: the static export of web/ (built into dist/web by `npm run build`), served on
// the API's port. `/` is the log-in and site list, `/sites/:id` and `/share/:token` are one shell
// page each that reads its id from the URL. HTML goes out with a Content-Security-Policy whose
// script hashes were computed at build time (scripts/build-web.mjs), never 'unsafe-inline'.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** `<root>/dist/web`, found from this module whether it runs built (dist/src/api) or from source (src/api). */
export function dashboardDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return path.join(dir, 'dist', 'web');
}

/** Inline-script hashes per exported HTML file, written by the build. */
type CspManifest = Record<string, string[]>;

export function contentSecurityPolicy(scriptHashes: string[]): string {
  return [
    "default-src 'self'",
    `script-src 'self'${scriptHashes.map((h) => ` '${h}'`).join('')}`,
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const PAGES: { route: string; file: string }[] = [
  { route: '/', file: 'index.html' },
  { route: '/sites/:site_id', file: 'site.html' },
  { route: '/share/:token', file: 'share.html' },
];

export async function dashboardRoutes(app: FastifyInstance, dir: string, log: { warn: (msg: string) => void }): Promise<void> {
  let manifest: CspManifest | undefined;
  try {
    manifest = JSON.parse(fs.readFileSync(path.join(dir, 'csp.json'), 'utf8')) as CspManifest;
  } catch {
    manifest = undefined;
  }
  if (!manifest || !fs.existsSync(path.join(dir, 'index.html'))) {
    log.warn(`The dashboard is not built (no ${dir}); run \`npm run build\`. The API works without it.`);
    app.get('/', { schema: { hide: true } }, async (_req, reply) =>
      reply.code(404).send({ success: false, error: 'Not found', message: 'The dashboard is not built: run `npm run build`' }),
    );
    return;
  }

  await app.register(fastifyStatic, {
    root: path.join(dir, '_next'),
    prefix: '/_next/',
    wildcard: true,
    // .br and .gz copies written by the build.
    preCompressed: true,
    index: false,
    // Content-hashed file names: cached for a year.
    immutable: true,
    maxAge: '365d',
    setHeaders: (res) => res.setHeader('x-content-type-options', 'nosniff'),
  });

  const sendPage = (reply: FastifyReply, file: string) => {
    const hashes = manifest![file] ?? [];
    return reply
      .headers({
        'content-security-policy': contentSecurityPolicy(hashes),
        'x-content-type-options': 'nosniff',
        // Share links carry their token in the path: never send it on to other sites.
        'referrer-policy': 'no-referrer',
        'x-frame-options': 'DENY',
        'cache-control': 'no-cache',
      })
      .type('text/html; charset=utf-8')
      .sendFile(file, dir, { maxAge: 0, cacheControl: false });
  };
  for (const { route, file } of PAGES) {
    // The web app's pages, not part of the API: left out of the OpenAPI document.
    app.get(route, { schema: { hide: true } }, async (_req, reply) => sendPage(reply, file));
  }
  if (fs.existsSync(path.join(dir, 'favicon.svg'))) {
    app.get('/favicon.svg', { schema: { hide: true } }, async (_req, reply) => reply.header('x-content-type-options', 'nosniff').sendFile('favicon.svg', dir, { maxAge: '1d' }));
  }
}
