'use client';
import { useState, type FormEvent } from 'react';
import { api, type SessionInfo } from '../lib/api';
import { Brand } from './Common';
import { CreateSite } from './Sites';

export function Login({ session, note, onLoggedIn }: { session: SessionInfo | undefined; note?: string; onLoggedIn: () => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    const res = await api('POST', '/api/auth/login', { token });
    setBusy(false);
    if (res.ok) {
      setToken('');
      onLoggedIn();
    } else setError(res.message ?? res.error);
  }

  return (
    <main className="wrap">
      <div className="login stack">
        <Brand />
        <form className="card stack" onSubmit={submit} aria-labelledby="login-title">
          <h1 id="login-title">Log in</h1>
          <p className="muted small m0">
            With the admin token (all sites) or a site&apos;s read key (that site). It is exchanged for a session cookie that page
            scripts cannot read.
          </p>
          {note && (
            <p className="notice m0" data-testid="login-note">
              {note}
            </p>
          )}
          <div className="field">
            <label htmlFor="token">Admin token or read key</label>
            <input
              id="token"
              name="token"
              type="password"
              autoComplete="current-password"
              value={token}
              onChange={(e) => setToken(e.target.value)}
              required
              aria-invalid={error ? true : undefined}
              aria-describedby={error ? 'login-error' : undefined}
            />
          </div>
          {error && (
            <p id="login-error" className="error m0" role="alert">
              {error}
            </p>
          )}
          <div>
            <button className="primary" type="submit" disabled={busy || token.trim() === ''}>
              {busy ? 'Logging in…' : 'Log in'}
            </button>
          </div>
        </form>
        {session && !session.admin_token_set && (
          <section className="card stack" aria-labelledby="open-title">
            <h2 id="open-title">No admin token on this server</h2>
            <p className="muted small m0">
              <code>ADMIN_TOKEN</code> is not set, so anyone who reaches this server may create a site. Create one here and log in with
              its read key, or set <code>ADMIN_TOKEN</code> to manage every site.
            </p>
            <CreateSite onLogin={onLoggedIn} />
          </section>
        )}
      </div>
    </main>
  );
}
