'use client';
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { api, get, type SessionInfo, type SiteInfo, type SiteWithKeys } from '../lib/api';
import { ConfirmDialog, CopyButton, snippet, TopBar } from './Common';

/** The API key of a site created in this tab, for its empty-state snippet (the key is public; the read key is never kept). */
export const NEW_SITE_KEY = (siteId: string) => `wa_api_key:${siteId}`;

export function KeysCard({ keys, title, onDone, onLogin }: { keys: SiteWithKeys; title: string; onDone?: () => void; onLogin?: () => void }) {
  const origin = typeof window === 'undefined' ? '' : window.location.origin;
  const code = snippet(origin, keys.site_id, keys.api_key);
  return (
    <section className="card stack" aria-labelledby="keys-title" data-testid="keys">
      <h2 id="keys-title">{title}</h2>
      <p className="notice m0">These keys are shown once. Copy them now: only their hashes are stored.</p>
      <div className="secret">
        <span className="muted small">Site id</span>
        <code className="mono" data-testid="key-site">{keys.site_id}</code>
        <span className="muted small">API key (public, sends events)</span>
        <span className="row">
          <code className="mono" data-testid="key-api">{keys.api_key}</code>
          <CopyButton text={keys.api_key} />
        </span>
        <span className="muted small">Read key (secret, reads statistics)</span>
        <span className="row">
          <code className="mono" data-testid="key-read">{keys.read_key}</code>
          <CopyButton text={keys.read_key} />
        </span>
      </div>
      <div className="stack">
        <label htmlFor="snippet-code">Add this to every page of the site, in the &lt;head&gt;:</label>
        <pre className="snippet mono" id="snippet-code" data-testid="snippet">{code}</pre>
        <div className="row">
          <CopyButton text={code} label="Copy snippet" />
          {onLogin && (
            <button
              type="button"
              className="primary"
              onClick={async () => {
                const res = await api('POST', '/api/auth/login', { token: keys.read_key });
                if (res.ok) onLogin();
              }}
            >
              Log in with this read key
            </button>
          )}
          {onDone && (
            <button type="button" onClick={onDone}>
              Done
            </button>
          )}
        </div>
      </div>
    </section>
  );
}

export function CreateSite({ onCreated, onLogin }: { onCreated?: (keys: SiteWithKeys) => void; onLogin?: () => void }) {
  const zones = useMemo(() => {
    try {
      return Intl.supportedValuesOf('timeZone');
    } catch {
      return ['UTC'];
    }
  }, []);
  const [name, setName] = useState('');
  const [timezone, setTimezone] = useState('UTC');
  const [error, setError] = useState<string>();
  const [created, setCreated] = useState<SiteWithKeys>();
  useEffect(() => {
    setTimezone(Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC');
  }, []);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(undefined);
    const res = await api<SiteWithKeys>('POST', '/api/site/create', { name, timezone });
    if (!res.ok) {
      setError(res.message ?? res.error);
      return;
    }
    sessionStorage.setItem(NEW_SITE_KEY(res.data.site_id), res.data.api_key);
    setName('');
    setCreated(res.data);
    onCreated?.(res.data);
  }

  if (created) return <KeysCard keys={created} title={`Site “${created.name}” created`} onDone={() => setCreated(undefined)} onLogin={onLogin} />;
  return (
    <form className="stack" onSubmit={submit} aria-label="Create a site">
      <div className="row">
        <div className="field">
          <label htmlFor="site-name">Name</label>
          <input id="site-name" value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} placeholder="My website" />
        </div>
        <div className="field">
          <label htmlFor="site-tz">Timezone</label>
          <select id="site-tz" value={timezone} onChange={(e) => setTimezone(e.target.value)}>
            {!zones.includes(timezone) && <option value={timezone}>{timezone}</option>}
            {zones.map((z) => (
              <option key={z} value={z}>
                {z}
              </option>
            ))}
          </select>
        </div>
      </div>
      {error && (
        <p className="error m0" role="alert">
          {error}
        </p>
      )}
      <div>
        <button className="primary" type="submit" disabled={name.trim() === ''}>
          Create site
        </button>
      </div>
    </form>
  );
}

export function SitesHome({ session }: { session: SessionInfo }) {
  const admin = session.role === 'admin';
  const [sites, setSites] = useState<SiteInfo[]>();
  const [error, setError] = useState<string>();
  const [keys, setKeys] = useState<{ keys: SiteWithKeys; title: string }>();
  const [confirm, setConfirm] = useState<{ site: SiteInfo; action: 'delete' | 'rotate' }>();
  const [creating, setCreating] = useState(false);

  async function load() {
    const res = await get<SiteInfo[]>('/api/sites');
    if (res.ok) setSites(res.data);
    else setError(res.message ?? res.error);
  }
  useEffect(() => {
    void load();
  }, []);

  async function act() {
    if (!confirm) return;
    const { site, action } = confirm;
    setConfirm(undefined);
    if (action === 'delete') {
      const res = await api('DELETE', `/api/sites/${encodeURIComponent(site.site_id)}`);
      if (!res.ok) setError(res.message ?? res.error);
    } else {
      const res = await api<SiteWithKeys>('POST', `/api/sites/${encodeURIComponent(site.site_id)}/rotate-keys`);
      if (res.ok) {
        sessionStorage.setItem(NEW_SITE_KEY(site.site_id), res.data.api_key);
        setKeys({ keys: res.data, title: `New keys for “${site.name}”` });
      } else setError(res.message ?? res.error);
    }
    await load();
  }

  return (
    <main className="wrap stack">
      <TopBar loggedIn>
        <span className="muted small">{admin ? 'Admin' : `Read key of ${session.site_id}`}</span>
      </TopBar>
      <div className="row">
        <h1>Sites</h1>
        <span className="spacer" />
        {admin && !creating && (
          <button type="button" className="primary" onClick={() => setCreating(true)}>
            New site
          </button>
        )}
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {keys && <KeysCard keys={keys.keys} title={keys.title} onDone={() => setKeys(undefined)} />}
      {admin && creating && (
        <section className="card stack" aria-labelledby="new-site-title">
          <div className="row">
            <h2 id="new-site-title">New site</h2>
            <span className="spacer" />
            <button type="button" onClick={() => setCreating(false)}>
              Close
            </button>
          </div>
          <CreateSite onCreated={() => void load()} />
        </section>
      )}
      <section className="card" aria-label="Site list">
        {sites === undefined && !error && <p className="muted">Loading sites…</p>}
        {sites?.length === 0 && <p className="muted">No sites yet. Create one to get its tracking snippet.</p>}
        <ul className="sites" data-testid="site-list">
          {sites?.map((s) => (
            <li key={s.site_id} data-site={s.site_id}>
              <div>
                <a className="name" href={`/sites/${encodeURIComponent(s.site_id)}`}>
                  {s.name}
                </a>
                <div className="muted small">
                  <span className="mono">{s.site_id}</span> · {s.timezone}
                  {s.created_at && <> · created {new Date(s.created_at).toLocaleDateString()}</>}
                </div>
              </div>
              {s.shared && <span className="badge">shared</span>}
              <span className="spacer" />
              {admin && (
                <div className="row">
                  <button type="button" onClick={() => setConfirm({ site: s, action: 'rotate' })} aria-label={`Rotate keys of ${s.name}`}>
                    Rotate keys
                  </button>
                  <button type="button" className="danger" onClick={() => setConfirm({ site: s, action: 'delete' })} aria-label={`Delete ${s.name}`}>
                    Delete
                  </button>
                </div>
              )}
            </li>
          ))}
        </ul>
      </section>
      <ConfirmDialog
        open={confirm !== undefined}
        title={confirm?.action === 'delete' ? `Delete “${confirm.site.name}”?` : `Rotate the keys of “${confirm?.site.name ?? ''}”?`}
        confirmLabel={confirm?.action === 'delete' ? `Delete ${confirm.site.name}` : 'Rotate keys'}
        danger={confirm?.action === 'delete'}
        onConfirm={() => void act()}
        onCancel={() => setConfirm(undefined)}
      >
        {confirm?.action === 'delete' ? (
          <p className="m0">
            This deletes the site <strong>{confirm.site.name}</strong> (<span className="mono">{confirm.site.site_id}</span>), all its statistics
            and raw events. Its keys stop working. This cannot be undone.
          </p>
        ) : (
          <p className="m0">
            New API and read keys replace the current ones, which stop working within seconds: update the snippet on the site, and log in
            again with the new read key where the old one was used.
          </p>
        )}
      </ConfirmDialog>
    </main>
  );
}
