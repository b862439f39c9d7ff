// Errors in the spec's JSON shape: { success: false, error, message?, details? }.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import type { ZodError } from 'zod';
import { QueueUnavailableError } from '../queue/port.js';

export interface FieldError {
  field: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly error: string,
    message?: string,
    readonly details?: FieldError[],
    readonly headers: Record<string, string> = {},
  ) {
    super(message ?? error);
  }
}

export function validationFailed(details: FieldError[]): ApiError {
  return new ApiError(400, 'Validation failed', undefined, details);
}

export function fromZod(err: ZodError, root = 'body'): ApiError {
  return validationFailed(
    err.issues.map((i) => ({ field: i.path.length ? i.path.join('.') : root, message: i.message })),
  );
}

/**
 * A route schema that Fastify validated with zod (fastify-type-provider-zod): the same issues, fields
 * and messages as the handler's own `fromZod`.
 */
function fromSchemaValidation(err: FastifyError): ApiError | undefined {
  if (!hasZodFastifySchemaValidationErrors(err)) return undefined;
  const root = err.validationContext === 'querystring' ? 'query' : (err.validationContext ?? 'body');
  return validationFailed(err.validation.map((v) => ({ field: v.instancePath.slice(1).split('/').join('.') || root, message: v.message ?? '' })));
}

/** Fastify's own errors (bad JSON, body too large, wrong content type) mapped to the spec's shape. */
function fromFastify(err: FastifyError): ApiError | undefined {
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError(400, 'Invalid JSON', `The request body is not valid JSON: ${err.message}`);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, 'Payload too large', err.message);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'Unsupported media type', 'Send the body as application/json');
  }
  if (err instanceof SyntaxError || err.statusCode === 400) return new ApiError(400, 'Invalid JSON', err.message);
  if (err.statusCode === 429) {
    return new ApiError(429, 'Rate limit exceeded', err.message);
  }
  return undefined;
}

export function errorHandler(isDevelopment: boolean) {
  return (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    let api: ApiError | undefined =
      err instanceof ApiError ? err : err instanceof QueueUnavailableError ? queueUnavailable(err) : (fromSchemaValidation(err) ?? fromFastify(err));
    if (!api) {
      req.log.error({ err }, 'Unhandled error');
      api = new ApiError(500, 'Internal server error', isDevelopment ? err.message : undefined);
    }
    reply.headers(api.headers).code(api.statusCode).send(errorBody(api));
  };
}

function queueUnavailable(err: QueueUnavailableError): ApiError {
  return new ApiError(503, 'Service unavailable', `The event was not queued: ${err.message}. Retry later.`, undefined, {
    'retry-after': '5',
  });
}

/** The spec's JSON error body of an ApiError. */
export function errorBody(e: ApiError) {
  return {
    success: false,
    error: e.error,
    ...(e.message !== e.error ? { message: e.message } : {}),
    ...(e.details ? { details: e.details } : {}),
  };
}
