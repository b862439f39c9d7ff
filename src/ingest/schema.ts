// The body of POST /api/event (and of each event of POST /api/event/batch). The spec's body stays
// valid unchanged; the fields a browser sends are optional additions. Every string must be one every
// store can keep (core/text.ts). Unknown fields are ignored.
import { z } from 'zod';
import { MAX_PATH_LENGTH, exampleTimestamp } from '../core/event.js';
import { storableText, unstorableReason } from '../core/text.js';

export const MAX_PROPS = 30;
export const MAX_PROP_KEY = 64;
export const MAX_PROP_VALUE = 256;
export const MAX_URL_LENGTH = 4096;

/** A string field with the spec's error messages ("site_id is required"). */
function field(name: string, max: number) {
  return z
    .string({ error: (issue) => (issue.input === undefined ? `${name} is required` : `${name} must be a string`) })
    .min(1, { error: `${name} must not be empty` })
    .max(max, { error: `${name} must be at most ${max} characters` })
    .refine(...storableText(name));
}

const optionalString = (name: string, max: number) =>
  z
    .string({ error: `${name} must be a string` })
    .max(max, { error: `${name} must be at most ${max} characters` })
    .refine(...storableText(name))
    .optional();

const httpUrl = z
  .string({ error: 'url must be a string' })
  .max(MAX_URL_LENGTH, { error: `url must be at most ${MAX_URL_LENGTH} characters` })
  .refine(...storableText('url'))
  // One parse (canParse builds no object); the page step parses the URL once more for its parts.
  .refine((s) => /^https?:/i.test(s) && URL.canParse(s), { error: 'url must be an absolute http(s) URL' });

const propValue = z.union([
  z
    .string()
    .max(MAX_PROP_VALUE, { error: `property values must be at most ${MAX_PROP_VALUE} characters` })
    .refine(...storableText('property value')),
  z.number().refine(Number.isFinite, { error: 'property values must be finite numbers' }),
  z.boolean(),
], { error: 'property values must be a string, a number or a boolean' });

const props = z
  .record(z.string(), propValue, { error: (iss) => (iss.code === 'invalid_type' ? 'props must be an object' : undefined) })
  .superRefine((p, ctx) => {
    const keys = Object.keys(p);
    if (keys.length > MAX_PROPS) ctx.addIssue({ code: 'custom', message: `props holds at most ${MAX_PROPS} properties` });
    for (const k of keys) {
      const problem =
        k.length === 0 ? 'property names must not be empty'
        : k.length > MAX_PROP_KEY ? `property names must be at most ${MAX_PROP_KEY} characters`
        : unstorableReason(k) ? `property name ${unstorableReason(k)}` : undefined;
      if (problem) ctx.addIssue({ code: 'custom', path: [k], message: problem });
    }
  });

export const eventInputSchema = z
  .object(
    {
      site_id: field('site_id', 64),
      event_type: field('event_type', 64),
      path: field('path', MAX_PATH_LENGTH).optional(),
      url: httpUrl.optional(),
      user_id: field('user_id', 256).optional(),
      timestamp: z
        .string({ error: 'timestamp must be an ISO 8601 string' })
        .pipe(z.iso.datetime({ offset: true, error: () => `timestamp must be an ISO 8601 date-time with a timezone, e.g. ${exampleTimestamp()}` }))
        .optional(),
      referrer: optionalString('referrer', MAX_URL_LENGTH),
      screen_width: z
        .number({ error: 'screen_width must be a number' })
        .int({ error: 'screen_width must be an integer' })
        .min(0, { error: 'screen_width must not be negative' })
        .max(100_000, { error: 'screen_width must be at most 100000' })
        .optional(),
      language: optionalString('language', 35),
      props: props.optional(),
      event_id: z.uuid({ error: 'event_id must be a UUID' }).optional(),
      hash_routing: z.boolean({ error: 'hash_routing must be a boolean' }).optional(),
    },
    { error: 'Request body must be a JSON object' },
  )
  .superRefine((e, ctx) => {
    if (e.path === undefined && e.url === undefined) ctx.addIssue({ code: 'custom', path: ['path'], message: 'path is required (or url)' });
  });

export type EventInput = z.infer<typeof eventInputSchema>;
