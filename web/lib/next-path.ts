// The page to go back to after an admin log-in: `/?next=/admin/queues/…`, set by the server when a
// browser opens the queue board without a session. Only paths of the board are followed, so the
// parameter cannot send anyone to another site or another page.
const BOARD = '/admin/queues';

export function returnPath(search: string): string | undefined {
  const next = new URLSearchParams(search).get('next');
  if (!next || next.includes('\\') || next.startsWith('//')) return undefined;
  if (next !== BOARD && !next.startsWith(`${BOARD}/`) && !next.startsWith(`${BOARD}?`)) return undefined;
  return next;
}
