'use client';
// The page of one site: `/sites/<id>` (logged in) or `/share/<token>` (public, read-only). Both are
// one exported shell page each; the id or token comes from the URL.
import { useCallback, useEffect, useState } from 'react';
import { get, setShareToken, type SessionInfo, type SiteInfo } from '../lib/api';
import { useLocation } from '../lib/url-state';
import { TopBar } from './Common';
import { Dashboard } from './Dashboard';
import { Login } from './Login';

type State =
  | { kind: 'loading' }
  | { kind: 'login'; session: SessionInfo }
  | { kind: 'error'; message: string }
  | { kind: 'ready'; site: SiteInfo; session?: SessionInfo };

export function SiteView({ mode }: { mode: 'site' | 'share' }) {
  const { pathname, ready } = useLocation();
  const [state, setState] = useState<State>({ kind: 'loading' });
  const segment = decodeURIComponent(pathname.split('/')[2] ?? '');

  const load = useCallback(async () => {
    if (mode === 'share') {
      setShareToken(segment);
      const res = await get<SiteInfo[]>('/api/sites');
      if (res.ok && res.data[0]) setState({ kind: 'ready', site: res.data[0] });
      else setState({ kind: 'error', message: 'This share link does not work: it was turned off, replaced by a new one, or mistyped.' });
      return;
    }
    const s = await get<SessionInfo>('/api/auth/session');
    const session = s.ok ? s.data : { authenticated: false, admin_token_set: true };
    if (!session.authenticated) {
      setState({ kind: 'login', session });
      return;
    }
    const res = await get<SiteInfo[]>('/api/sites');
    const site = res.ok ? res.data.find((x) => x.site_id === segment) : undefined;
    if (site) setState({ kind: 'ready', site, session });
    else setState({ kind: 'error', message: res.ok ? `No site “${segment}” for this log-in.` : (res.message ?? res.error) });
  }, [mode, segment]);

  useEffect(() => {
    if (ready && segment) void load();
  }, [ready, segment, load]);

  useEffect(() => {
    if (state.kind === 'ready') document.title = `${state.site.name} · Analytics`;
  }, [state]);

  if (state.kind === 'login') return <Login session={state.session} onLoggedIn={() => void load()} />;
  return (
    <main className="wrap stack">
      <TopBar loggedIn={mode === 'site' && state.kind !== 'loading'}>
        {mode === 'site' && (
          <a className="button" href="/">
            All sites
          </a>
        )}
      </TopBar>
      {state.kind === 'loading' && <p className="muted">Loading…</p>}
      {state.kind === 'error' && (
        <p className="error" role="alert" data-testid="site-error">
          {state.message}
        </p>
      )}
      {state.kind === 'ready' && (
        <>
          <div className="row">
            <h1 data-testid="site-name">{state.site.name}</h1>
            {mode === 'share' && <span className="badge">public link</span>}
          </div>
          <Dashboard site={state.site} admin={state.session?.role === 'admin'} />
        </>
      )}
    </main>
  );
}
