// OpenAPI schemas of POST /api/event and POST /api/event/batch. The event body is the ingestion
// schema itself (src/ingest/schema.ts); the handlers parse it in the ingestion steps, so these
// schemas document and do not validate (see shared.ts, `documented`).
import { z } from 'zod';
import type { Config } from '../../config.js';
import { IGNORE_REASONS } from '../../core/event.js';
import { eventInputSchema } from '../../ingest/schema.js';
import { anyOf, described, documented, errorBody, errorExamples, errorResponse, fieldError, internalError } from './shared.js';

const pageview = { site_id: 'my-website', event_type: 'pageview', path: '/home', user_id: 'user-123' };
const browserEvent = {
  site_id: 'my-website',
  event_type: 'pageview',
  url: 'https://example.com/pricing?utm_source=newsletter&utm_medium=email',
  referrer: 'https://news.ycombinator.com/',
  screen_width: 1440,
  language: 'en-GB',
};
const customEvent = { site_id: 'my-website', event_type: 'signup', url: 'https://example.com/signup', props: { plan: 'pro', seats: 3 } };

const eventBody = described(
  eventInputSchema,
  'One event. The spec\'s body (`site_id`, `event_type`, `path`, `user_id`, `timestamp`) is valid unchanged; the other fields are what a browser (the tracker) adds. Unknown fields are ignored. Every string must be text every store can keep (no NUL, no unpaired surrogate). Sent as `application/json`, or as `text/plain` holding JSON (`navigator.sendBeacon`).',
  {
    spec: { summary: "The spec's server-side event", value: pageview },
    late: { summary: 'With a timestamp (a late event lands in its own local day and hour)', value: { ...pageview, path: '/products', user_id: 'user-456', timestamp: '2026-12-01T10:30:00Z' } },
    browser: { summary: 'What the tracker sends', value: browserEvent },
    custom: { summary: 'A custom event with properties', value: customEvent },
  },
);

const queued = z.object({
  success: z.literal(true),
  message: z.string().describe('`Event queued successfully`, or `Event ignored: <reason>`'),
  ignored: z.enum(IGNORE_REASONS).optional().describe('Why the event is not counted (answered 202 all the same)'),
  processing_time_ms: z.number().describe('Time the server spent on the request'),
});

const commonErrors = {
  401: errorResponse('Missing or unknown `x-api-key`', {
    missing: errorExamples.unauthorized('Missing x-api-key header'),
    unknown: errorExamples.unauthorized('Invalid API key'),
  }),
  403: errorResponse('The key belongs to another site', { other: errorExamples.forbidden('This API key does not belong to site "other-site"') }),
  413: errorResponse('Body over `BODY_LIMIT_BYTES` (`BATCH_BODY_LIMIT_BYTES` for a batch)', { tooLarge: errorExamples.tooLarge }),
  415: errorResponse('Body neither JSON nor text/plain', { mediaType: errorExamples.mediaType }),
  429: errorResponse('Over `RATE_LIMIT_MAX` requests per window; `Retry-After` says when to retry', { limited: errorExamples.rateLimited }),
  503: errorResponse('Not queued (the queue is unreachable): retry after `Retry-After` seconds. Never a 2xx for an event that is not durably queued.', {
    unavailable: errorExamples.unavailable,
  }),
  500: internalError,
};

const apiKeyQuery = z.object({
  api_key: z.string().optional().describe('The ingestion key, for `navigator.sendBeacon`, which cannot set the `x-api-key` header'),
});

export const eventDocs = documented({
  summary: 'Queue one event',
  description:
    'Validates the event, authenticates its site by `x-api-key` (never a database query), runs the ingestion steps (site, timestamp, page and UTM, bots, visitor hash, country, language) and answers **202** once the event is durably queued. The IP address is used here and never queued or stored.',
  tags: ['Ingestion'],
  security: anyOf('apiKey'),
  consumes: ['application/json', 'text/plain'],
  querystring: apiKeyQuery,
  body: eventBody,
  response: {
    202: described(queued, 'Queued (or ignored as a bot: accepted, not counted)', {
      queued: { summary: 'Queued', value: { success: true, message: 'Event queued successfully', processing_time_ms: 3.75 } },
      bot: { summary: 'A bot, not counted', value: { success: true, message: 'Event ignored: bot', ignored: 'bot', processing_time_ms: 5.74 } },
    }),
    400: errorResponse('A field is missing or invalid, text no store can keep, a timestamp outside the window, a refused member, or not JSON', {
      missing: {
        summary: 'site_id missing, user_id not a string',
        value: {
          success: false,
          error: 'Validation failed',
          details: [
            { field: 'site_id', message: 'site_id is required' },
            { field: 'user_id', message: 'user_id must be a string' },
          ],
        },
      },
      nul: errorExamples.validation('path', 'path must not contain a NUL character (U+0000, at position 2)'),
      old: errorExamples.validation('timestamp', 'timestamp is older than the retention window of 7 days'),
      invalidJson: errorExamples.invalidJson,
    }),
    ...commonErrors,
  },
});

type BatchStatus = 'accepted' | 'ignored' | 'refused';
const counts = {
  accepted: z.number().int().describe('Events queued and counted'),
  ignored: z.number().int().describe('Events queued and not counted (bots)'),
  refused: z.number().int().describe('Events refused (not queued)'),
};
const result = z.object({
  index: z.number().int(),
  status: z.enum(['accepted', 'ignored', 'refused'] satisfies BatchStatus[]),
  reason: z.string().optional().describe('For `ignored`'),
  code: z.number().int().optional().describe('For `refused`: the status the event alone would have got'),
  error: z.string().optional(),
  message: z.string().optional(),
  details: z.array(fieldError).optional(),
});

const batchResults = [
  { index: 0, status: 'accepted' },
  { index: 1, status: 'refused', code: 400, error: 'Validation failed', details: [{ field: 'path', message: 'path is required (or url)' }] },
];

export function batchDocs(config: Config) {
  const max = config.ingest.eventBatchMax;
  return documented({
    summary: 'Queue a batch of events',
    description: `For server-side senders and backfills: at most \`EVENT_BATCH_MAX\` (here ${max}) events of the key's site, up to \`BATCH_BODY_LIMIT_BYTES\`. Each event is checked as by \`POST /api/event\`; refusing one does not refuse the others. The accepted and ignored events go into one job: **202** once it is durably queued, **503** for all of them otherwise. When no event is accepted the answer is the refusal itself.`,
    tags: ['Ingestion'],
    security: anyOf('apiKey'),
    consumes: ['application/json', 'text/plain'],
    body: described(
      z.object({ events: z.array(eventInputSchema).min(1).max(max) }, { error: 'Request body must be a JSON object' }),
      'The events, each one the body of `POST /api/event`',
      {
        two: {
          summary: 'Two events',
          value: {
            events: [
              { site_id: 'my-website', event_type: 'pageview', path: '/docs', user_id: 'user-456', event_id: '0b7e7a3c-5f4f-4c4e-9a1e-3f6b7f1d2c3a' },
              { site_id: 'my-website', event_type: 'pageview', path: '/pricing', user_id: 'user-789' },
            ],
          },
        },
      },
    ),
    response: {
      202: described(
        z.object({ success: z.literal(true), message: z.string(), ...counts, results: z.array(result), processing_time_ms: z.number() }),
        'Queued: what happened to each event',
        {
          partial: {
            summary: 'One queued, one refused',
            value: { success: true, message: '1 queued, 0 ignored, 1 refused', accepted: 1, ignored: 0, refused: 1, results: batchResults, processing_time_ms: 2.15 },
          },
        },
      ),
      400: described(
        errorBody.extend({ ...counts, results: z.array(result) }).partial({ accepted: true, ignored: true, refused: true, results: true }),
        'No event was accepted (each event\'s details prefixed by its index), or the body is not `{events: [...]}`',
        {
          refused: {
            summary: 'Every event refused',
            value: {
              success: false,
              error: 'Validation failed',
              message: 'No event of the batch was accepted',
              details: [{ field: 'events.0.path', message: 'path is required (or url)' }],
              accepted: 0,
              ignored: 0,
              refused: 1,
              results: [{ index: 0, status: 'refused', code: 400, error: 'Validation failed', details: [{ field: 'path', message: 'path is required (or url)' }] }],
            },
          },
          empty: errorExamples.validation('events', 'events must not be empty'),
        },
      ),
      ...commonErrors,
    },
  });
}
