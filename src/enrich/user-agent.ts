// PLACEHOLDER until the enrich branch lands (replaced by its ua-parser-js module).
export interface ClientInfo { browser: string | null; os: string | null; device: string | null }
export function parseUserAgent(ua: string): ClientInfo {
  const browser = /Firefox\//.test(ua) ? 'Firefox' : /Edg\//.test(ua) ? 'Edge' : /Chrome\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : null;
  const os = /Windows/.test(ua) ? 'Windows' : /iPhone|iPad/.test(ua) ? 'iOS' : /Mac OS X/.test(ua) ? 'macOS' : /Android/.test(ua) ? 'Android' : /Linux/.test(ua) ? 'Linux' : null;
  const device = /iPad|Tablet/.test(ua) ? 'tablet' : /Mobile|iPhone/.test(ua) ? 'mobile' : 'desktop';
  return { browser, os, device };
}
