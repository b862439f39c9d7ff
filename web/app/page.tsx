'use client';
// `/`: log-in, then the site list; or, with `?next=/admin/queues…`, back to the queue board once
// the admin is logged in.
import { useCallback, useEffect, useState } from 'react';
import { get, type SessionInfo } from '../lib/api';
import { returnPath } from '../lib/next-path';
import { Login } from '../components/Login';
import { SitesHome } from '../components/Sites';

export default function Home() {
  const [session, setSession] = useState<SessionInfo>();
  const check = useCallback(async () => {
    const res = await get<SessionInfo>('/api/auth/session');
    setSession(res.ok ? res.data : { authenticated: false, admin_token_set: true });
  }, []);
  useEffect(() => {
    void check();
  }, [check]);
  const next = typeof window === 'undefined' ? undefined : returnPath(window.location.search);
  const leaving = next !== undefined && session?.authenticated === true && session.role === 'admin';
  useEffect(() => {
    if (leaving) window.location.replace(next);
  }, [leaving, next]);
  if (!session || leaving) return <main className="wrap muted">Loading…</main>;
  if (!session.authenticated || (next && session.role !== 'admin')) {
    const note = next ? 'The queue board needs the admin: log in with the admin token to open it.' : undefined;
    return <Login session={session} note={note} onLoggedIn={() => void check()} />;
  }
  return <SitesHome session={session} />;
}
