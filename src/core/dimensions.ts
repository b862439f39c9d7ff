// The dimension registry: every breakdown the system keeps is one entry here. An entry says how a
// value comes from an event (or from a visit's first event) and how it is counted; the rollup plan
// (plan.ts), both store adapters and the breakdown API work from this list alone, so adding a
// dimension is one entry. Ids are stored in the rollups: never renumber or reuse one.
import type { DerivedEvent } from './derive.js';

/**
 * How a dimension's rows are counted:
 * - `total`: one row per bucket (the site's totals): visitors, pageviews, events, visits, bounces, duration.
 * - `event`: a value per event (a page, an event name, a property): visitors and pageviews/events in
 *   the event's own bucket.
 * - `visit`: the value of the visit's first event (source, browser, …): visits and visitors in the
 *   bucket where the visit started; pageviews and events of the visit's events in their own buckets.
 * - `entry` / `exit`: the path of the visit's first / last pageview: visits and visitors in the
 *   bucket where the visit started. Only exit pages change as a visit goes on.
 * - `ignored`: events not counted (bots), per reason.
 */
export type DimensionKind = 'total' | 'event' | 'visit' | 'entry' | 'exit' | 'ignored';

/** A value of a dimension within a scope (a property's event and key); `null` means "none". */
export interface ScopedValue {
  scope: string;
  value: string | null;
}

export interface Dimension {
  readonly id: number;
  readonly name: string;
  readonly kind: DimensionKind;
  /** What the API's rows carry besides `visitors`. */
  readonly counts: readonly ('pageviews' | 'events' | 'visits')[];
  /** The query parameters that select the scope (`event`, then `property`). */
  readonly scopeParams?: readonly ('event' | 'property')[];
  /** Values an event contributes (`event` and `visit` kinds). */
  readonly values?: (e: DerivedEvent) => ScopedValue[];
}

const one = (value: string | null): ScopedValue[] => [{ scope: '', value }];

function visitDim(id: number, name: string, of: (e: DerivedEvent) => string | null): Dimension {
  return { id, name, kind: 'visit', counts: ['visits', 'pageviews'], values: (e) => one(of(e)) };
}

/** A scope as one dictionary string: a JSON array of its parts, unambiguous whatever they hold. */
export const scopeOf = (...parts: string[]) => JSON.stringify(parts);

export const DIMENSIONS: readonly Dimension[] = [
  { id: 0, name: 'total', kind: 'total', counts: ['pageviews', 'events', 'visits'] },
  {
    id: 1,
    name: 'page',
    kind: 'event',
    counts: ['pageviews'],
    values: (e) => (e.is_pageview ? one(e.path) : []),
  },
  {
    id: 2,
    name: 'event',
    kind: 'event',
    counts: ['events'],
    values: (e) => (e.is_pageview ? [] : one(e.type)),
  },
  {
    id: 3,
    name: 'property_key',
    kind: 'event',
    counts: ['events'],
    scopeParams: ['event'],
    values: (e) => (e.is_pageview || !e.props ? [] : Object.keys(e.props).map((k) => ({ scope: scopeOf(e.type), value: k }))),
  },
  {
    id: 4,
    name: 'property',
    kind: 'event',
    counts: ['events'],
    scopeParams: ['event', 'property'],
    values: (e) =>
      // An empty string is "no value", as for every dimension.
      e.is_pageview || !e.props ? [] : Object.entries(e.props).map(([k, v]) => ({ scope: scopeOf(e.type, k), value: String(v) === '' ? null : String(v) })),
  },
  visitDim(5, 'source', (e) => e.source),
  visitDim(6, 'referrer', (e) => e.referrer),
  visitDim(7, 'utm_source', (e) => e.utm_source),
  visitDim(8, 'utm_medium', (e) => e.utm_medium),
  visitDim(9, 'utm_campaign', (e) => e.utm_campaign),
  visitDim(10, 'utm_term', (e) => e.utm_term),
  visitDim(11, 'utm_content', (e) => e.utm_content),
  visitDim(12, 'browser', (e) => e.browser),
  visitDim(13, 'os', (e) => e.os),
  visitDim(14, 'device', (e) => e.device),
  visitDim(15, 'country', (e) => e.country),
  visitDim(16, 'language', (e) => e.language),
  visitDim(17, 'screen', (e) => e.screen),
  { id: 18, name: 'entry_page', kind: 'entry', counts: ['visits'] },
  { id: 19, name: 'exit_page', kind: 'exit', counts: ['visits'] },
  { id: 20, name: 'ignored', kind: 'ignored', counts: ['events'] },
];

export const TOTAL = DIMENSIONS[0]!;
const byName = new Map(DIMENSIONS.map((d) => [d.name, d]));
export const dimensionByName = (name: string) => byName.get(name);

/** The dimensions whose values are taken from a visit's first event, in registry order. */
export const VISIT_DIMENSIONS = DIMENSIONS.filter((d) => d.kind === 'visit');
export const EVENT_DIMENSIONS = DIMENSIONS.filter((d) => d.kind === 'event');
export const ENTRY = DIMENSIONS.find((d) => d.kind === 'entry')!;
export const EXIT = DIMENSIONS.find((d) => d.kind === 'exit')!;
export const IGNORED = DIMENSIONS.find((d) => d.kind === 'ignored')!;

/** Dimensions a client may ask a breakdown of (`total` and `ignored` are read through /api/stats). */
export const BREAKDOWN_DIMENSIONS = DIMENSIONS.filter((d) => d.kind !== 'total' && d.kind !== 'ignored');
