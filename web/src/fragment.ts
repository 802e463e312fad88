/**
 * Everything the page takes from its URL lives in the fragment (`#session=…&token=…`, `#key=…`): a browser
 * never sends the fragment to a server, so tokens and keys never reach a request line or an access log.
 */
export interface Fragment {
  session?: string;
  token?: string;
  key?: string;
}

export function parseFragment(hash: string): Fragment {
  const p = new URLSearchParams(hash.replace(/^#/, ''));
  const out: Fragment = {};
  const session = p.get('session');
  const token = p.get('token');
  const key = p.get('key');
  if (session) out.session = session;
  if (token) out.token = token;
  if (key) out.key = key;
  return out;
}

export function shareUrl(origin: string, session: string, token: string | undefined): string {
  const p = new URLSearchParams({ session });
  if (token) p.set('token', token);
  return `${origin}/#${p.toString()}`;
}

/** The fragment without `key`, so the key does not stay in the address bar, the history or a copied link. */
export function withoutKey(hash: string): string {
  const p = new URLSearchParams(hash.replace(/^#/, ''));
  p.delete('key');
  const rest = p.toString();
  return rest ? `#${rest}` : '';
}
