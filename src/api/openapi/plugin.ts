// The OpenAPI 3 document, generated from the route schemas (zod, through fastify-type-provider-zod
// and @fastify/swagger), at GET /api/openapi.json, and Swagger UI at GET /api/docs (assets from the
// @fastify/swagger-ui package, under a CSP of their own). Register before the routes: the onRoute
// hook and the compilers apply to routes registered after them.
import fs from 'node:fs';
import path from 'node:path';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject, validatorCompiler } from 'fastify-type-provider-zod';
import { openapiDocs, ROUTE_SCHEMAS } from './operations.js';
import { asJson, securitySchemes } from './shared.js';

export const OPENAPI_PATH = '/api/openapi.json';
export const DOCS_PATH = '/api/docs';

/**
 * Swagger UI's page: scripts only from its package files. Its bundle writes a <style> element at
 * run time, so inline styles (never inline scripts) are allowed on this page.
 */
export const DOCS_CSP =
  "default-src 'self'; base-uri 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; form-action 'self'; frame-ancestors 'none'";

function packageVersion(): string {
  let dir = import.meta.dirname;
  for (;;) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
    const up = path.dirname(dir);
    if (up === dir) return '0.0.0';
    dir = up;
  }
}

type Json = Record<string, unknown>;

/**
 * A plugin's root route (`/api/docs` of Swagger UI, `/admin/queues` of the board) is served with and
 * without the trailing slash, and @fastify/swagger names it with the slash: name it without.
 */
function withoutRootSlash(doc: Json): Json {
  const paths = (doc.paths ?? {}) as Record<string, Json>;
  for (const key of Object.keys(paths)) {
    const bare = key.replace(/\/$/, '');
    if (bare !== key && bare !== '' && !(bare in paths)) {
      paths[bare] = paths[key]!;
      delete paths[key];
    }
  }
  return doc;
}

/**
 * Responses given per content type (`{content: {'text/html': …}}`) keep their examples inside the
 * schema; move them to the media object, where OpenAPI (and Swagger UI) expects them.
 */
function liftExamples(doc: Json): Json {
  for (const item of Object.values((doc.paths ?? {}) as Record<string, Json>)) {
    for (const operation of Object.values(item) as Json[]) {
      for (const response of Object.values((operation.responses ?? {}) as Record<string, Json>)) {
        for (const media of Object.values((response.content ?? {}) as Record<string, Json>)) {
          const schema = media.schema as Json | undefined;
          if (schema?.['x-examples'] && !media.examples) {
            media.examples = schema['x-examples'];
            delete schema['x-examples'];
          }
        }
      }
    }
  }
  return doc;
}

export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  // The routes of this project set their compilers themselves (shared.ts: `documented`, `validated`);
  // these are for schemas given to routes of other plugins (ROUTE_SCHEMAS) or without either: request
  // parts validated by zod (errors.ts turns the issues into the spec's "Validation failed" answer),
  // answers serialized as without a schema (the tests check real answers against the schemas).
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(asJson);
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      const schema = ROUTE_SCHEMAS[`${method} ${route.url}`];
      if (schema && (!route.schema || route.schema.hide)) route.schema = schema;
    }
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Website Analytics API',
        version: packageVersion(),
        description:
          'Self-hostable website analytics: ingestion answers once an event is durably queued; statistics come from exact rollups. Errors are `{success:false, error, message?, details?}`; validation errors list every field in `details`.',
        license: { name: 'MIT', identifier: 'MIT' },
      },
      tags: [
        { name: 'Ingestion', description: 'Events in: `x-api-key` (public)' },
        { name: 'Statistics', description: 'Numbers out: read key, share token, ADMIN_TOKEN or a dashboard session' },
        { name: 'Sites', description: 'Creating and managing sites' },
        { name: 'Dashboard sessions', description: 'The cookie log-in of the web dashboard' },
        { name: 'Tracker', description: 'The script for your pages' },
        { name: 'Operations', description: 'Health, documentation, queue board' },
      ],
      components: { securitySchemes: securitySchemes as unknown as Record<string, never> },
    },
    transform: jsonSchemaTransform,
    transformObject: (documentObject) =>
      withoutRootSlash(liftExamples(jsonSchemaTransformObject(documentObject) as Json)) as ReturnType<typeof jsonSchemaTransformObject>,
  });
  await app.register(swaggerUi, {
    routePrefix: DOCS_PATH,
    staticCSP: DOCS_CSP,
    uiConfig: { deepLinking: true, defaultModelsExpandDepth: 0 },
  });
  app.get(OPENAPI_PATH, openapiDocs, async (_req, reply) => reply.header('cache-control', 'no-cache').send(app.swagger()));
}
