// Typed fetch wrapper for the Proxmox-VE-compatible REST API served by pyxisd.
//
// Every call goes to /api2/json<path>. The ticket travels as the PVEAuthCookie cookie
// (set by session.ts after login, as the upstream UI does); writes carry the
// CSRFPreventionToken header. The {data} envelope is unwrapped; failures throw ApiError
// with the HTTP status, the message and the per-parameter `errors` map (for forms).

export type Params = Record<string, string | number | boolean | undefined | null>;

export class ApiError extends Error {
  readonly status: number;
  readonly errors: Record<string, string>;

  constructor(status: number, message: string, errors: Record<string, string> = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.errors = errors;
  }

  /** The message with the per-field errors appended, for places without a form. */
  get detail(): string {
    const fields = Object.entries(this.errors).map(([k, v]) => `${k}: ${v}`);
    return fields.length ? `${this.message} (${fields.join('; ')})` : this.message;
  }
}

/** CSRF token of the current session; session.ts keeps it up to date. */
let csrfToken: string | null = null;
/** Called on any 401 from an authenticated call (the session is gone). */
let onUnauthorized: (() => void) | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

export function setUnauthorizedHandler(handler: (() => void) | null): void {
  onUnauthorized = handler;
}

export const API_BASE = '/api2/json';

/** Form-encode parameters as upstream clients do (booleans as 0|1, undefined dropped). */
export function encodeParams(params: Params | undefined): URLSearchParams {
  const out = new URLSearchParams();
  if (!params) return out;
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    out.append(key, typeof value === 'boolean' ? (value ? '1' : '0') : String(value));
  }
  return out;
}

/** Encode one path segment (volume ids and UPIDs contain ':' and '/'). */
export function seg(value: string | number): string {
  return encodeURIComponent(String(value));
}

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RequestOptions {
  /** do not treat a 401 as the end of the session (login itself) */
  anonymous?: boolean;
  signal?: AbortSignal;
}

export async function request<T>(
  method: Method,
  path: string,
  params?: Params,
  opts: RequestOptions = {},
): Promise<T> {
  return (await requestEnvelope<T>(method, path, params, opts)).data;
}

/** The whole envelope: `data` plus extras such as `total` of paged listings. */
export interface Envelope<T> {
  data: T;
  total?: number;
  [key: string]: unknown;
}

export async function requestEnvelope<T>(
  method: Method,
  path: string,
  params?: Params,
  opts: RequestOptions = {},
): Promise<Envelope<T>> {
  let url = API_BASE + path;
  const headers: Record<string, string> = { Accept: 'application/json' };
  let body: string | undefined;
  const encoded = encodeParams(params);
  if (method === 'GET' || method === 'DELETE') {
    const qs = encoded.toString();
    if (qs) url += (url.includes('?') ? '&' : '?') + qs;
  } else {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    body = encoded.toString();
  }
  if (method !== 'GET' && csrfToken) headers.CSRFPreventionToken = csrfToken;

  let resp: Response;
  try {
    resp = await fetch(url, { method, headers, body, credentials: 'same-origin', signal: opts.signal });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, `connection error: ${(err as Error).message}`);
  }
  let payload: unknown = null;
  const text = await resp.text();
  if (text) {
    try {
      payload = JSON.parse(text);
    } catch {
      payload = null;
    }
  }
  if (!resp.ok) {
    const obj = (payload ?? {}) as { message?: string; errors?: Record<string, string> };
    const message =
      (typeof obj.message === 'string' && obj.message.trim()) ||
      resp.statusText ||
      `HTTP ${resp.status}`;
    if (resp.status === 401 && !opts.anonymous && onUnauthorized) onUnauthorized();
    throw new ApiError(resp.status, message.trim(), obj.errors ?? {});
  }
  const env = (payload ?? {}) as Envelope<T>;
  return { ...env, data: (env.data ?? null) as T };
}

export const api = {
  get: <T>(path: string, params?: Params, opts?: RequestOptions) => request<T>('GET', path, params, opts),
  post: <T>(path: string, params?: Params, opts?: RequestOptions) => request<T>('POST', path, params, opts),
  put: <T>(path: string, params?: Params, opts?: RequestOptions) => request<T>('PUT', path, params, opts),
  del: <T>(path: string, params?: Params, opts?: RequestOptions) => request<T>('DELETE', path, params, opts),
};

/** Human message of anything thrown by an API call. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.detail;
  if (err instanceof Error) return err.message;
  return String(err);
}

export function getCsrfToken(): string | null {
  return csrfToken;
}
