'use client';
// `/`: log-in, then the site list.
import { useCallback, useEffect, useState } from 'react';
import { get, type SessionInfo } from '../lib/api';
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
  if (!session) return <main className="wrap muted">Loading…</main>;
  if (!session.authenticated) return <Login session={session} onLoggedIn={() => void check()} />;
  return <SitesHome session={session} />;
}
