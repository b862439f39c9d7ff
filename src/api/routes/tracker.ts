// GET /script.js (and TRACKER_SCRIPT_PATH) — the tracker script, built by `npm run build` into
// dist/tracker/script.js and read once at start. Cached for a day by browsers and CDNs, revalidated
// with a strong ETag; gzipped when the client accepts it (the file is sized for that, ≤ 1 KB).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiContext } from '../context.js';
import { ApiError } from '../errors.js';
import { trackerDocs } from '../openapi/operations.js';

/** dist/tracker/script.js, whether this module runs compiled (dist/src/api/routes) or from source (tsx). */
export const TRACKER_FILE = import.meta.url.endsWith('.ts')
  ? path.resolve(import.meta.dirname, '../../../dist/tracker/script.js')
  : path.resolve(import.meta.dirname, '../../../tracker/script.js');

export interface TrackerAsset {
  identity: Buffer;
  gzip: Buffer;
  /** Strong ETags, one per representation (RFC 9110 §8.8.3). */
  etag: string;
  gzipEtag: string;
}

export function trackerAsset(code: Buffer): TrackerAsset {
  const hash = createHash('sha256').update(code).digest('hex').slice(0, 32);
  return { identity: code, gzip: gzipSync(code, { level: 9 }), etag: `"${hash}"`, gzipEtag: `"${hash}-gz"` };
}

export function trackerRoutes(app: FastifyInstance, ctx: ApiContext, file = TRACKER_FILE): void {
  let asset: TrackerAsset | undefined;
  try {
    asset = trackerAsset(fs.readFileSync(file));
  } catch (err) {
    // Only from source without a build (`npm run dev` on a fresh checkout): `npm start` always builds.
    app.log.warn(`Tracker script not served: cannot read ${file} (${(err as Error).message}); run npm run build`);
  }

  const serve = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!asset) throw new ApiError(404, 'Not found', 'The tracker script is not built: run npm run build');
    const gzip = acceptsGzip(req.headers['accept-encoding']);
    const etag = gzip ? asset.gzipEtag : asset.etag;
    reply
      .header('content-type', 'application/javascript; charset=utf-8')
      .header('cache-control', 'public, max-age=86400, stale-while-revalidate=604800')
      .header('etag', etag)
      .header('vary', 'accept-encoding')
      // Embeddable from any site: a <script> tag needs no CORS, but COEP pages require CORP.
      .header('cross-origin-resource-policy', 'cross-origin')
      .header('x-content-type-options', 'nosniff');
    if (matchesEtag(req.headers['if-none-match'], etag)) return reply.code(304).send();
    if (gzip) reply.header('content-encoding', 'gzip');
    return reply.send(gzip ? asset.gzip : asset.identity);
  };

  const paths = new Set(['/script.js', ...(ctx.config.tracker.scriptPath ? [ctx.config.tracker.scriptPath] : [])]);
  for (const url of paths) app.get(url, trackerDocs, serve);
}

/** Whether Accept-Encoding allows gzip: named with q > 0, or `*` with q > 0 and gzip not named. */
function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  const q = new Map<string, number>();
  for (const part of header.toLowerCase().split(',')) {
    const [coding, ...params] = part.split(';').map((p) => p.trim());
    const weight = params.find((p) => p.startsWith('q='));
    q.set(coding!, weight === undefined ? 1 : Number(weight.slice(2)) || 0);
  }
  return (q.get('gzip') ?? q.get('*') ?? 0) > 0;
}

/** If-None-Match: `*` or a list of entity tags, compared weakly (RFC 9110 §13.1.2). */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}
