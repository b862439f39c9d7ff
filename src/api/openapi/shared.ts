// Pieces every route's OpenAPI schema uses: the spec's error shape, the credentials, examples, and
// the route option for a schema that documents what the handler parses itself.
import type { FastifySchema, FastifySchemaCompiler, FastifySerializerCompiler } from 'fastify';
import { validatorCompiler as zodValidatorCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';

/** Security schemes of the document (components.securitySchemes). */
export const securitySchemes = {
  apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key', description: "A site's ingestion key (`ak_…`). Public: it may sit in a web page. `navigator.sendBeacon` cannot set headers, so `POST /api/event` also takes it as the `api_key` query parameter." },
  bearer: {
    type: 'http',
    scheme: 'bearer',
    description: "`ADMIN_TOKEN` (every site), a site's read key (`rk_…`, that site) or a share token (`sh_…`, that site's statistics only).",
  },
  session: {
    type: 'apiKey',
    in: 'cookie',
    name: 'wa_session',
    description: 'The dashboard session of `POST /api/auth/login`. Changes made with it also need the `x-requested-with` header and, when the browser sends one, this server\'s `Origin`.',
  },
} as const;

export type Security = keyof typeof securitySchemes;
/** OpenAPI security requirements: any one of the schemes. */
export const anyOf = (...schemes: Security[]) => schemes.map((s) => ({ [s]: [] as string[] }));
export const NO_CREDENTIAL: Record<string, string[]>[] = [];

export const fieldError = z.object({ field: z.string().describe('The field at fault, as a dotted path (`events.1.path`), or `body` / `query`'), message: z.string() });

/** The spec's error body: `{success:false, error, message?, details?}`. */
export const errorBody = z.object({
  success: z.literal(false),
  error: z.string().describe('`Validation failed`, `Invalid JSON`, `Unauthorized`, `Forbidden`, `Not found`, `Conflict`, `Payload too large`, `Unsupported media type`, `Rate limit exceeded`, `Service unavailable` or `Internal server error`'),
  message: z.string().optional(),
  details: z.array(fieldError).optional().describe('Every field that failed validation'),
});

export type Example = { summary?: string; value: unknown };
export type Examples = Record<string, Example>;

/** A response (or body) schema with a description and named examples (shown by Swagger UI, checked by the tests). */
export function described<T extends z.ZodType>(schema: T, description: string, examples?: Examples): T {
  return schema.meta({ description, ...(examples ? { 'x-examples': examples } : {}) });
}

const error = (error: string, message?: string, details?: { field: string; message: string }[]) => ({
  success: false,
  error,
  ...(message !== undefined ? { message } : {}),
  ...(details ? { details } : {}),
});

/** Example error bodies, as the server answers them (README, "Errors"). */
export const errorExamples = {
  validation: (field: string, message: string) => ({ summary: 'A field is invalid', value: error('Validation failed', undefined, [{ field, message }]) }),
  invalidJson: { summary: 'Not JSON', value: error('Invalid JSON', 'The request body is not valid JSON: Unexpected end of JSON input') },
  unauthorized: (message: string) => ({ summary: 'No or unknown credential', value: error('Unauthorized', message) }),
  forbidden: (message: string) => ({ summary: 'Not allowed', value: error('Forbidden', message) }),
  notFound: (message: string) => ({ summary: 'Not found', value: error('Not found', message) }),
  conflict: (message: string) => ({ summary: 'Taken', value: error('Conflict', message) }),
  tooLarge: { summary: 'Over the body limit', value: error('Payload too large', 'Request body is too large') },
  mediaType: { summary: 'Neither JSON nor text/plain', value: error('Unsupported media type', 'Send the body as application/json') },
  rateLimited: { summary: 'Over the rate limit', value: error('Rate limit exceeded', 'At most 100 requests per 60 s; retry in 1 minute') },
  unavailable: { summary: 'The queue is unreachable', value: error('Service unavailable', 'The event was not queued: Event queue unavailable: Redis connection is reconnecting. Retry later.') },
  internal: { summary: 'Anything unexpected (message only with NODE_ENV=development)', value: error('Internal server error') },
};

export function errorResponse(description: string, examples: Examples | Example): typeof errorBody {
  const named = 'value' in examples ? { example: examples as Example } : (examples as Examples);
  return described(errorBody, description, named);
}

/** The 500 answer every route can give. */
export const internalError = errorResponse('Anything unexpected', { internal: errorExamples.internal });

/** Answers are documented, not checked at run time: serialized exactly as without a schema. */
export const asJson: FastifySerializerCompiler<unknown> = () => (data) => JSON.stringify(data);

type RouteSchemaOptions<S> = { schema: S; validatorCompiler: FastifySchemaCompiler<unknown>; serializerCompiler: FastifySerializerCompiler<unknown> };

/**
 * Route options for a schema that documents what the handler parses itself: Fastify does not
 * validate it (the handler's own zod parse keeps its order of checks and its messages, and costs
 * nothing more on the ingestion path). The schema objects are the ones the handler parses with.
 * The compilers are the route's own, so the route works on any Fastify instance.
 */
export function documented<S extends FastifySchema>(schema: S): RouteSchemaOptions<S> {
  return { schema, validatorCompiler: () => () => true, serializerCompiler: asJson };
}

/** Route options for a schema whose request parts Fastify validates with zod (fastify-type-provider-zod). */
export function validated<S extends FastifySchema>(schema: S): RouteSchemaOptions<S> {
  return { schema, validatorCompiler: zodValidatorCompiler as FastifySchemaCompiler<unknown>, serializerCompiler: asJson };
}
