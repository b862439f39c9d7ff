// Who may read /metrics: anyone with METRICS_PUBLIC=true or without an ADMIN_TOKEN (local use, as
// site creation); otherwise `Authorization: Bearer <ADMIN_TOKEN>` (401 without it, 403 with another).
import { bearerFromHeader, isAdminToken } from '../api/auth.js';

export interface MetricsAccess {
  adminToken: string | undefined;
  public: boolean;
}

export type AccessRefusal = { status: 401 | 403; body: { success: false; error: string; message: string } };

/** undefined when the request may read the metrics; else the answer in the spec's error shape. */
export function refuseMetrics(authorization: string | undefined, access: MetricsAccess): AccessRefusal | undefined {
  if (access.public || !access.adminToken) return undefined;
  const token = bearerFromHeader(authorization);
  if (!token) return { status: 401, body: { success: false, error: 'Unauthorized', message: 'Send Authorization: Bearer <ADMIN_TOKEN>' } };
  if (!isAdminToken(token, access.adminToken)) return { status: 403, body: { success: false, error: 'Forbidden', message: 'Invalid admin token' } };
  return undefined;
}
