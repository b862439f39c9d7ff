'use client';
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { api } from '../lib/api';

export function Brand() {
  return (
    <a className="brand" href="/">
      <svg viewBox="0 0 32 32" aria-hidden="true">
        <rect width="32" height="32" rx="6" fill="var(--accent)" />
        <path d="M7 23V15M13 23V9M19 23V13M25 23V6" stroke="var(--card)" strokeWidth="3.5" strokeLinecap="round" />
      </svg>
      <span>Analytics</span>
    </a>
  );
}

export function TopBar({ children, loggedIn }: { children?: ReactNode; loggedIn: boolean }) {
  return (
    <header className="topbar">
      <Brand />
      <div className="row">
        {children}
        {loggedIn && <LogoutButton />}
      </div>
    </header>
  );
}

export function LogoutButton() {
  return (
    <button
      type="button"
      onClick={async () => {
        await api('POST', '/api/auth/logout');
        window.location.href = '/';
      }}
    >
      Log out
    </button>
  );
}

export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(text);
          setDone(true);
          setTimeout(() => setDone(false), 1500);
        } catch {
          setDone(false);
        }
      }}
    >
      {done ? 'Copied' : label}
    </button>
  );
}

/** A modal confirmation (native <dialog>: focus stays inside, Escape cancels). */
export function ConfirmDialog(props: {
  open: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  danger?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (props.open && !d.open) d.showModal();
    if (!props.open && d.open) d.close();
  }, [props.open]);
  return (
    <dialog ref={ref} aria-labelledby="confirm-title" onCancel={props.onCancel} onClose={props.onCancel}>
      <h2 id="confirm-title">{props.title}</h2>
      <div className="stack mt12">
        {props.children}
        <div className="row end">
          <button type="button" onClick={props.onCancel} autoFocus>
            Cancel
          </button>
          <button type="button" className={props.danger ? 'danger solid' : 'primary'} onClick={props.onConfirm}>
            {props.confirmLabel}
          </button>
        </div>
      </div>
    </dialog>
  );
}

export function snippet(origin: string, siteId: string, apiKey: string): string {
  return `<script defer src="${origin}/script.js" data-site="${siteId}" data-key="${apiKey}"></script>`;
}
