// The dashboard talks to the public API only. Logged in, the browser sends the HttpOnly session
// cookie (never readable here); on a share page, the share token from the URL goes as a Bearer
// header and no cookie is sent.

export type ApiResult<T> =
  | { ok: true; data: T }
  | { ok: false; status: number; error: string; message?: string; /** The endpoint does not exist on this server (yet). */ missing: boolean };

let shareToken: string | undefined;

/** On /share/<token>: every request reads with that token. */
export function setShareToken(token: string): void {
  shareToken = token;
}

export function isSharePage(): boolean {
  return shareToken !== undefined;
}

export async function api<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<ApiResult<T>> {
  const headers: Record<string, string> = {};
  // Mutations carry a custom header: a cross-origin page cannot send it without a preflight,
  // which the server's CORS rules refuse (CSRF).
  if (method !== 'GET') headers['x-requested-with'] = 'dashboard';
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (shareToken) headers.authorization = `Bearer ${shareToken}`;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: shareToken ? 'omit' : 'same-origin',
      cache: 'no-store',
    });
  } catch (err) {
    return { ok: false, status: 0, error: 'Network error', message: (err as Error).message, missing: false };
  }
  let json: { success?: boolean; data?: T; error?: string; message?: string } | undefined;
  try {
    json = await res.json();
  } catch {
    json = undefined;
  }
  if (res.ok && json?.success) return { ok: true, data: json.data as T };
  const message = json?.message;
  return {
    ok: false,
    status: res.status,
    error: json?.error ?? `HTTP ${res.status}`,
    message,
    // The server's not-found handler names the route: "No route for GET /api/stats/breakdown".
    missing: res.status === 404 && typeof message === 'string' && message.startsWith('No route for'),
  };
}

export const get = <T,>(path: string) => api<T>('GET', path);

export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  return q.toString();
}

// ---- shapes of the answers the dashboard reads ------------------------------------------------

export interface SessionInfo {
  authenticated: boolean;
  role?: 'admin' | 'site';
  site_id?: string;
  expires_at?: string;
  admin_token_set: boolean;
}

export interface SiteInfo {
  site_id: string;
  name: string;
  timezone: string;
  created_at?: string;
  shared?: boolean;
}

export interface SiteWithKeys {
  site_id: string;
  name: string;
  timezone: string;
  api_key: string;
  read_key: string;
  created_at: string;
}

export interface SeriesPoint {
  date?: string;
  hour?: string;
  views: number;
  unique_users: number;
  visits?: number;
}

export interface StatsAnswer {
  site_id: string;
  total_views: number;
  unique_users_count: number;
  top_paths: { path: string; views: number }[];
  period?: { from: string; to: string; timezone: string };
  series?: SeriesPoint[];
  visits?: number;
  bounce_rate?: number;
  visit_duration?: number;
  views_per_visit?: number;
  ignored?: Record<string, number>;
}

export interface BreakdownRow {
  value: string | null;
  visitors: number;
  pageviews?: number;
  events?: number;
  visits?: number;
}

export interface BreakdownAnswer {
  site_id: string;
  dimension: string;
  results: BreakdownRow[];
}

export interface RealtimeAnswer {
  site_id: string;
  visitors: number;
  pageviews: number;
  top_pages: { path: string; visitors: number }[];
}
