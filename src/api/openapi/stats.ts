// OpenAPI schemas of GET /api/stats, /api/stats/breakdown and /api/stats/realtime: the answers and
// the errors. Their queries are the zod objects of src/api/routes/stats.ts, which Fastify validates
// through fastify-type-provider-zod (the route gives them).
import { z } from 'zod';
import { anyOf, described, errorExamples, errorResponse, internalError } from './shared.js';

const readers = anyOf('bearer', 'session');

const pathViews = z.object({ path: z.string(), views: z.number().int() });
const visitMetrics = {
  visits: z.number().int(),
  bounce_rate: z.number().describe('Bounces ÷ visits × 100, rounded (0 without visits)'),
  visit_duration: z.number().describe('Mean visit duration in seconds, rounded'),
  views_per_visit: z.number().describe('Page views ÷ visits, rounded to 2 decimals'),
};
const spec = {
  site_id: z.string(),
  total_views: z.number().int().describe('Page views'),
  unique_users_count: z.number().int().describe('Exact distinct visitors (given user_ids and cookieless hashes); over a range, distinct over the whole range'),
  top_paths: z.array(pathViews).describe('The 10 most viewed paths, by views then path'),
  ...visitMetrics,
  ignored: z.record(z.string(), z.number().int()).describe('Events accepted but not counted, per reason (`bot`)'),
};
const point = {
  views: z.number().int(),
  unique_users: z.number().int(),
  visits: z.number().int(),
};
/** A point of a series: `date` (local day) in daily series, `hour` (local hour with its offset) in hourly ones. */
const seriesPoint = z.object({
  date: z.string().optional().describe('Local date, in daily series'),
  hour: z.string().optional().describe('Local hour with its offset, in hourly series'),
  ...point,
});

const dayAnswer = z.object({ ...spec, date: z.string() });
const last24hAnswer = z.object({
  ...spec,
  period: z.object({ from: z.string(), to: z.string(), timezone: z.string() }),
  series: z.array(seriesPoint),
});
const rangeAnswer = z.object({
  ...spec,
  from: z.string(),
  to: z.string(),
  timezone: z.string(),
  granularity: z.enum(['day', 'hour']),
  series: z.array(seriesPoint),
});

const top = [
  { path: '/', views: 1 },
  { path: '/docs', views: 1 },
  { path: '/home', views: 1 },
  { path: '/pricing', views: 1 },
  { path: '/signup', views: 1 },
];
const metrics = { visits: 4, bounce_rate: 75, visit_duration: 75, views_per_visit: 1.25, ignored: { bot: 1 } };

const readErrors = {
  401: errorResponse('No credential, or an unknown read key or share token', {
    none: errorExamples.unauthorized('Send Authorization: Bearer <read_key or ADMIN_TOKEN>'),
    unknown: errorExamples.unauthorized('Invalid read key'),
  }),
  403: errorResponse("The credential is another site's, or an ingestion key", {
    other: errorExamples.forbidden('This read key belongs to another site'),
    ingestionKey: errorExamples.forbidden('An ingestion API key cannot read statistics; use the read key'),
  }),
  404: errorResponse('Unknown site (read with ADMIN_TOKEN)', { unknown: errorExamples.notFound('Unknown site "nope"') }),
  429: errorResponse('Over `READ_RATE_LIMIT_MAX` requests per window', { limited: errorExamples.rateLimited }),
  500: internalError,
};

const periodErrors = {
  missing: errorExamples.validation('site_id', 'site_id is required'),
  date: errorExamples.validation('date', 'date must be a valid date in YYYY-MM-DD format'),
  range: errorExamples.validation('to', 'a range covers at most 366 days'),
  hourly: errorExamples.validation('granularity', 'granularity=hour allows at most 7 days'),
};

export const statsDocs = {
  summary: 'Statistics of a site for a day, a range or the last 24 hours',
  description:
    'From rollups, never from raw events. `date=YYYY-MM-DD`: that local day (site timezone). Nothing: the rolling last 24 hours (`before=` moves its end). `from`+`to` (both included, at most 366 days) with `granularity=day|hour` (hour: at most 7 days): totals and a series.',
  tags: ['Statistics'],
  security: readers,
  response: {
    200: described(
      z.object({ success: z.literal(true), data: z.union([dayAnswer, last24hAnswer, rangeAnswer]), processing_time_ms: z.number() }),
      'The statistics',
      {
        day: { summary: 'One day (`date=2026-12-01`)', value: { success: true, data: { site_id: 'my-website', date: '2026-12-01', total_views: 5, unique_users_count: 4, top_paths: top, ...metrics }, processing_time_ms: 2.47 } },
        range: {
          summary: 'A range with a daily series',
          value: {
            success: true,
            data: {
              site_id: 'my-website',
              from: '2026-11-30',
              to: '2026-12-01',
              timezone: 'UTC',
              granularity: 'day',
              total_views: 5,
              unique_users_count: 4,
              top_paths: top,
              ...metrics,
              series: [
                { date: '2026-11-30', views: 0, unique_users: 0, visits: 0 },
                { date: '2026-12-01', views: 5, unique_users: 4, visits: 4 },
              ],
            },
            processing_time_ms: 2.57,
          },
        },
        last24h: {
          summary: 'The last 24 hours (series shortened)',
          value: {
            success: true,
            data: {
              site_id: 'my-website',
              period: { from: '2026-11-30T10:00:00Z', to: '2026-12-01T10:26:36Z', timezone: 'UTC' },
              total_views: 5,
              unique_users_count: 4,
              top_paths: top,
              ...metrics,
              series: [
                { hour: '2026-11-30T10:00:00Z', views: 0, unique_users: 0, visits: 0 },
                { hour: '2026-12-01T10:00:00Z', views: 5, unique_users: 4, visits: 4 },
              ],
            },
            processing_time_ms: 3.45,
          },
        },
      },
    ),
    400: errorResponse('A query parameter is missing or invalid', periodErrors),
    ...readErrors,
  },
};

const breakdownRow = z.object({
  value: z.string().nullable().describe('The dimension value; `null` when absent (direct traffic, unknown country)'),
  visitors: z.number().int(),
  pageviews: z.number().int().optional(),
  visits: z.number().int().optional(),
  events: z.number().int().optional(),
});
const periodDescription = z.union([
  z.object({ date: z.string(), timezone: z.string() }),
  z.object({ from: z.string(), to: z.string(), timezone: z.string(), granularity: z.enum(['day', 'hour']) }),
  z.object({ from: z.string(), to: z.string(), timezone: z.string() }),
]);

export const breakdownDocs = {
  summary: "One dimension's values for a period",
  description:
    'Rows by `visitors` descending, then value ascending (`null` first), each with the counts its dimension has. Same period parameters as `GET /api/stats`. `property_key` needs `event`; `property` needs `event` and `property`.',
  tags: ['Statistics'],
  security: readers,
  response: {
    200: described(
      z.object({
        success: z.literal(true),
        data: z.object({
          site_id: z.string(),
          dimension: z.string(),
          event: z.string().optional(),
          property: z.string().optional(),
          period: periodDescription,
          results: z.array(breakdownRow),
        }),
        processing_time_ms: z.number(),
      }),
      'The rows',
      {
        source: {
          summary: 'Sources of a day',
          value: {
            success: true,
            data: {
              site_id: 'my-website',
              dimension: 'source',
              period: { date: '2026-12-01', timezone: 'UTC' },
              results: [
                { value: null, visitors: 2, visits: 2, pageviews: 2 },
                { value: 'Google', visitors: 1, visits: 1, pageviews: 1 },
                { value: 'newsletter', visitors: 1, visits: 1, pageviews: 2 },
              ],
            },
            processing_time_ms: 2.19,
          },
        },
        property: {
          summary: 'Values of one property of one event',
          value: {
            success: true,
            data: { site_id: 'my-website', dimension: 'property', event: 'signup', property: 'plan', period: { date: '2026-12-01', timezone: 'UTC' }, results: [{ value: 'pro', visitors: 1, events: 1 }] },
            processing_time_ms: 1.13,
          },
        },
      },
    ),
    400: errorResponse('A query parameter is missing or invalid, or an unknown dimension', {
      ...periodErrors,
      dimension: errorExamples.validation('dimension', 'dimension is required'),
      event: errorExamples.validation('event', 'event is required for dimension=property_key'),
    }),
    ...readErrors,
  },
};

export const realtimeDocs = {
  summary: 'Who is on the site now',
  description: '`visitors` with an event in the last 5 minutes, `pageviews` in the last 30 minutes, and the pages those visitors are on now.',
  tags: ['Statistics'],
  security: readers,
  response: {
    200: described(
      z.object({
        success: z.literal(true),
        data: z.object({
          site_id: z.string(),
          visitors: z.number().int(),
          pageviews: z.number().int(),
          top_pages: z.array(z.object({ path: z.string().nullable(), visitors: z.number().int() })),
          at: z.string().describe('The server time of the answer'),
        }),
        processing_time_ms: z.number(),
      }),
      'Now',
      {
        now: {
          summary: 'Three visitors now',
          value: {
            success: true,
            data: {
              site_id: 'my-website',
              visitors: 3,
              pageviews: 5,
              top_pages: [
                { path: '/', visitors: 1 },
                { path: '/docs', visitors: 1 },
                { path: '/home', visitors: 1 },
              ],
              at: '2026-12-01T10:26:37.306Z',
            },
            processing_time_ms: 1.87,
          },
        },
      },
    ),
    400: errorResponse('`site_id` is missing', { missing: periodErrors.missing }),
    ...readErrors,
  },
};
