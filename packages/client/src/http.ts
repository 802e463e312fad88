import { RelaycastHttpError, RelaycastNetworkError } from './errors.js';

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface JsonRequest {
  method: 'GET' | 'POST';
  url: string;
  /** Sent as `Authorization: Bearer <bearer>`: an API key (`rk_…`) or a subscribe token (`rt1.…`). */
  bearer?: string | undefined;
  body?: unknown;
  timeoutMs: number;
  fetch: FetchLike;
}

/**
 * One JSON request with a deadline. Errors come back as {@link RelaycastHttpError} carrying the server's
 * `{error: {code, message}}`, or {@link RelaycastNetworkError} when there was no answer at all.
 */
export async function requestJson<T>(r: JsonRequest): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (r.bearer) headers.authorization = `Bearer ${r.bearer}`;
  if (r.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await r.fetch(r.url, {
      method: r.method,
      headers,
      ...(r.body !== undefined ? { body: JSON.stringify(r.body) } : {}),
      signal: AbortSignal.timeout(r.timeoutMs),
    });
  } catch (e) {
    const err = e as Error;
    const what = err.name === 'TimeoutError' ? `no answer within ${r.timeoutMs} ms` : err.message;
    throw new RelaycastNetworkError(`${r.method} ${r.url}: ${what}`, { cause: e });
  }
  const text = await res.text().catch(() => '');
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const e = (json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    const retryAfter = Number(res.headers.get('retry-after'));
    throw new RelaycastHttpError(
      res.status,
      typeof e?.code === 'string' ? e.code : `http_${res.status}`,
      typeof e?.message === 'string' ? e.message : `${r.method} ${r.url} answered ${res.status}`,
      Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
    );
  }
  return json as T;
}
