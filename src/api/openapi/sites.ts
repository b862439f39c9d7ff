// OpenAPI schemas of the site routes and of the dashboard's log-in. Request bodies are the zod
// objects the handlers parse (passed in by the routes); the handlers check the credential first,
// so Fastify does not validate them (shared.ts, `documented`).
import { z } from 'zod';
import { anyOf, described, documented, errorExamples, errorResponse, internalError, NO_CREDENTIAL } from './shared.js';

const admin = anyOf('bearer', 'session');

const siteWithKeys = z.object({
  site_id: z.string(),
  name: z.string(),
  timezone: z.string().describe('IANA name, canonical spelling'),
  api_key: z.string().describe('Ingestion key (`ak_…`), shown only now'),
  read_key: z.string().describe('Read key (`rk_…`), shown only now'),
  created_at: z.string(),
});
const keysExample = {
  site_id: 'boutique-cafe',
  name: 'Boutique Café',
  timezone: 'Europe/Paris',
  api_key: 'ak_iqyTTyrVj5JXY_PNyOo1mTzGmyWzwcT9',
  read_key: 'rk_mH9IS8ERtswwCpkKOKI6QCiSXfqNbFRA',
  created_at: '2026-11-25T12:48:31.479Z',
};

const adminErrors = {
  401: errorResponse('No credential', { none: errorExamples.unauthorized('Send Authorization: Bearer <ADMIN_TOKEN>') }),
  403: errorResponse('Not the admin token, a cookie change without `x-requested-with` or from another origin, or no `ADMIN_TOKEN` on the server', {
    wrong: errorExamples.forbidden('Invalid admin token'),
    noAdmin: errorExamples.forbidden('Set ADMIN_TOKEN on the server to delete sites, rotate keys or share them'),
  }),
  404: errorResponse('Unknown site', { unknown: errorExamples.notFound('Unknown site "nope"') }),
  429: errorResponse('Over `RATE_LIMIT_MAX` requests per window', { limited: errorExamples.rateLimited }),
  500: internalError,
};

const siteIdParams = z.object({ site_id: z.string().describe('The site id') });

export function createSiteDocs(body: z.ZodType) {
  return documented({
    summary: 'Create a site',
    description:
      'Answers the site with its two keys, shown only once (only their SHA-256 is stored). Without `site_id` the id is derived from the name (transliterated, lower case, a `-2`, `-3`… suffix when taken). With `ADMIN_TOKEN` set it needs the admin; unset, creation is open (local use).',
    tags: ['Sites'],
    security: [...admin, {}],
    body: described(body, 'The new site', {
      name: { summary: 'A name and a timezone', value: { name: 'Boutique Café', timezone: 'Europe/Paris' } },
      explicit: { summary: 'An explicit id', value: { name: 'My website', site_id: 'my-website' } },
    }),
    response: {
      201: described(z.object({ success: z.literal(true), data: siteWithKeys }), 'Created', { created: { value: { success: true, data: keysExample } } }),
      400: errorResponse('A field is invalid', {
        name: errorExamples.validation('name', 'name is required'),
        timezone: errorExamples.validation('timezone', 'timezone must be an IANA timezone name, e.g. Europe/Paris'),
      }),
      401: adminErrors[401],
      403: errorResponse('Not the admin token', { wrong: errorExamples.forbidden('Invalid admin token') }),
      409: errorResponse('The explicit `site_id` is taken, or belonged to a deleted site', {
        taken: errorExamples.conflict('A site with id "my-website" already exists'),
        deleted: errorExamples.conflict('The site id "my-website" belonged to a deleted site and is not reused; choose another name'),
      }),
      429: adminErrors[429],
      500: internalError,
    },
  });
}

export const listSitesDocs = documented({
  summary: 'List the sites',
  description: "The admin gets every site; a read key (or its session) its own; a share token its site's `site_id`, `name` and `timezone` only. Keys are never listed.",
  tags: ['Sites'],
  security: anyOf('bearer', 'session'),
  response: {
    200: described(
      z.object({
        success: z.literal(true),
        data: z.array(
          z.object({
            site_id: z.string(),
            name: z.string(),
            timezone: z.string(),
            created_at: z.string().optional(),
            shared: z.boolean().optional().describe('Whether a share link is on'),
          }),
        ),
      }),
      'The sites',
      { admin: { value: { success: true, data: [{ site_id: 'my-website', name: 'my-website', timezone: 'UTC', created_at: '2026-12-01T09:58:58.399Z', shared: false }] } } },
    ),
    401: errorResponse('No credential', {
      none: errorExamples.unauthorized('Send Authorization: Bearer <read_key or ADMIN_TOKEN>, or log in on the dashboard'),
    }),
    500: internalError,
  },
});

export const deleteSiteDocs = documented({
  summary: 'Delete a site and its data',
  description: 'Admin only. Deletes the site, its raw events, rollups and dictionaries; its keys stop working (within 10 s on every server). The id is never given to a new site.',
  tags: ['Sites'],
  security: admin,
  params: siteIdParams,
  response: {
    200: described(z.object({ success: z.literal(true), data: z.object({ site_id: z.string(), deleted: z.literal(true) }) }), 'Deleted', {
      deleted: { value: { success: true, data: { site_id: 'my-website', deleted: true } } },
    }),
    ...adminErrors,
  },
});

export const rotateKeysDocs = documented({
  summary: "Replace a site's keys",
  description: 'Admin only. New `api_key` and `read_key`, shown once; the old ones (and sessions made with the old read key) are refused at once here and within 10 s on every server.',
  tags: ['Sites'],
  security: admin,
  params: siteIdParams,
  response: {
    200: described(z.object({ success: z.literal(true), data: siteWithKeys }), 'The new keys', {
      rotated: { value: { success: true, data: { ...keysExample, api_key: 'ak_VZacdzZPZ23im8rIjHUCge8xiQK0mwek', read_key: 'rk_XJNfx0K1lpYFckDQUdS5cOEDA2TDxNpj' } } },
    }),
    ...adminErrors,
  },
});

export const shareOnDocs = documented({
  summary: 'Turn on the public share link',
  description: 'Admin only. A new token each time (which ends the previous link), shown once. `/share/<token>` shows that site\'s dashboard without log-in; the token reads that site\'s statistics and nothing else.',
  tags: ['Sites'],
  security: admin,
  params: siteIdParams,
  response: {
    201: described(z.object({ success: z.literal(true), data: z.object({ site_id: z.string(), share_token: z.string(), url: z.string() }) }), 'The link', {
      on: {
        value: {
          success: true,
          data: { site_id: 'my-website', share_token: 'sh_533bvGi9-6mO8k0aAE0-l93M0LWB_GUx', url: 'http://localhost:3000/share/sh_533bvGi9-6mO8k0aAE0-l93M0LWB_GUx' },
        },
      },
    }),
    ...adminErrors,
  },
});

export const shareOffDocs = documented({
  summary: 'Turn off the public share link',
  description: 'Admin only. The token is refused at once here and within seconds on every server.',
  tags: ['Sites'],
  security: admin,
  params: siteIdParams,
  response: {
    200: described(z.object({ success: z.literal(true), data: z.object({ site_id: z.string(), shared: z.literal(false) }) }), 'Off', {
      off: { value: { success: true, data: { site_id: 'my-website', shared: false } } },
    }),
    ...adminErrors,
  },
});

const sameOriginOnly = errorResponse('Not from the dashboard itself (no `x-requested-with` header, or another `Origin`)', {
  crossSite: errorExamples.forbidden('Log in from the dashboard itself (x-requested-with header, same Origin)'),
});
const csrfHeader = z.object({ 'x-requested-with': z.string().describe('Any value: a cross-origin page cannot send it without a CORS preflight, which the server refuses') });

export function loginDocs(body: z.ZodType) {
  return documented({
    summary: 'Log in to the dashboard',
    description:
      'Exchanges the admin token or a site\'s read key for the `wa_session` cookie (HttpOnly, SameSite=Strict, signed). Needs `x-requested-with` and, when sent, this server\'s `Origin`.',
    tags: ['Dashboard sessions'],
    security: NO_CREDENTIAL,
    headers: csrfHeader,
    body: described(body, 'The credential', { admin: { value: { token: 'the ADMIN_TOKEN' } } }),
    response: {
      200: described(
        z.object({
          success: z.literal(true),
          data: z.object({ role: z.enum(['admin', 'site']), site_id: z.string().optional(), expires_at: z.string() }),
        }),
        'Logged in; the answer sets the `wa_session` cookie',
        { admin: { value: { success: true, data: { role: 'admin', expires_at: '2026-12-01T21:58:58.420Z' } } } },
      ),
      400: errorResponse('No token', { missing: errorExamples.validation('token', 'token is required') }),
      401: errorResponse('Unknown token', { unknown: errorExamples.unauthorized('Unknown token: use the admin token or a site read key') }),
      403: sameOriginOnly,
      429: errorResponse('Over `RATE_LIMIT_MAX` requests per window', { limited: errorExamples.rateLimited }),
      500: internalError,
    },
  });
}

export const sessionDocs = documented({
  summary: 'The current dashboard session',
  tags: ['Dashboard sessions'],
  security: [...anyOf('session'), {}],
  response: {
    200: described(
      z.object({
        success: z.literal(true),
        data: z.object({
          authenticated: z.boolean(),
          role: z.enum(['admin', 'site']).optional(),
          site_id: z.string().optional(),
          expires_at: z.string().optional(),
          admin_token_set: z.boolean().describe('Whether the server has an ADMIN_TOKEN (an admin log-in exists)'),
        }),
      }),
      'The session, if any',
      {
        admin: { summary: 'Logged in as the admin', value: { success: true, data: { authenticated: true, role: 'admin', expires_at: '2026-12-01T21:58:58.420Z', admin_token_set: true } } },
        none: { summary: 'No session', value: { success: true, data: { authenticated: false, admin_token_set: true } } },
      },
    ),
    500: internalError,
  },
});

export const logoutDocs = documented({
  summary: 'Log out of the dashboard',
  description: 'Clears the cookie. Needs `x-requested-with` and, when sent, this server\'s `Origin`.',
  tags: ['Dashboard sessions'],
  security: [...anyOf('session'), {}],
  headers: csrfHeader,
  response: {
    200: described(z.object({ success: z.literal(true) }), 'Logged out; the answer clears the cookie', { out: { value: { success: true } } }),
    403: errorResponse('Not from the dashboard itself', { crossSite: errorExamples.forbidden('Log out from the dashboard itself (x-requested-with header, same Origin)') }),
    500: internalError,
  },
});
