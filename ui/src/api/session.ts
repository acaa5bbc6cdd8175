// The login session: ticket cookie, CSRF token, capabilities, renewal and logout.
//
// As upstream's UI does, the ticket from POST /access/ticket is stored client-side in the
// PVEAuthCookie cookie (which the browser then sends with every API call and websocket)
// and renewed before its 2 h lifetime ends by POSTing the current ticket as the password.

import { ApiError, api, setCsrfToken } from './client';
import type { Cap, TicketResponse } from './types';

export interface Session {
  username: string;
  csrf: string;
  cap: Cap;
  clustername?: string;
  /** unix seconds of the ticket's issue time (renewal is due 15 min before expiry) */
  issued: number;
}

const STORAGE_KEY = 'pyxis.session';
const COOKIE = 'PVEAuthCookie';
export const TICKET_LIFETIME = 7200;
/** renew every this many seconds (upstream renews well before the 2 h lifetime) */
export const RENEW_INTERVAL = 15 * 60;

export function readTicket(): string | null {
  for (const part of document.cookie.split(';')) {
    const [k, ...rest] = part.trim().split('=');
    if (k === COOKIE) return decodeURIComponent(rest.join('='));
  }
  return null;
}

function writeTicket(ticket: string | null): void {
  const secure = location.protocol === 'https:' ? '; secure' : '';
  if (ticket === null) {
    document.cookie = `${COOKIE}=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; SameSite=Lax${secure}`;
  } else {
    document.cookie = `${COOKIE}=${encodeURIComponent(ticket)}; path=/; SameSite=Lax${secure}`;
  }
}

/** Issue time of a ticket "PVE:<userid>:<8 hex>::<sig>", in unix seconds. */
export function ticketTime(ticket: string): number {
  const parts = ticket.split(':');
  const hex = parts[2] ?? '';
  const t = parseInt(hex, 16);
  return Number.isFinite(t) ? t : Math.floor(Date.now() / 1000);
}

function store(resp: TicketResponse): Session {
  if (!resp.ticket || !resp.CSRFPreventionToken) throw new ApiError(401, 'authentication failure');
  writeTicket(resp.ticket);
  setCsrfToken(resp.CSRFPreventionToken);
  const s: Session = {
    username: resp.username,
    csrf: resp.CSRFPreventionToken,
    cap: resp.cap ?? {},
    clustername: resp.clustername,
    issued: ticketTime(resp.ticket),
  };
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(s));
  return s;
}

/** The session kept across reloads of this tab, if its ticket is still valid. */
export function restoreSession(): Session | null {
  const ticket = readTicket();
  const raw = sessionStorage.getItem(STORAGE_KEY);
  if (!ticket || !raw) return null;
  try {
    const s = JSON.parse(raw) as Session;
    if (Date.now() / 1000 - ticketTime(ticket) > TICKET_LIFETIME - 60) return null;
    setCsrfToken(s.csrf);
    return s;
  } catch {
    return null;
  }
}

export type LoginResult = { kind: 'ok'; session: Session } | { kind: 'tfa'; username: string; challenge: string };

/** First login step: username/password/realm. May ask for a second factor. */
export async function login(username: string, password: string, realm: string): Promise<LoginResult> {
  const resp = await api.post<TicketResponse>(
    '/access/ticket',
    { username, password, realm: username.includes('@') ? undefined : realm },
    { anonymous: true },
  );
  if (resp.NeedTFA && resp.ticket) return { kind: 'tfa', username: resp.username, challenge: resp.ticket };
  return { kind: 'ok', session: store(resp) };
}

/** Second login step: `response` is "<type>:<value>", e.g. "totp:123456" or "recovery:abcd-...". */
export async function finishTfa(username: string, challenge: string, response: string): Promise<Session> {
  const resp = await api.post<TicketResponse>(
    '/access/ticket',
    { username, 'tfa-challenge': challenge, password: response },
    { anonymous: true },
  );
  return store(resp);
}

/** Renew the ticket by presenting it as the password (as upstream's UI does). */
export async function renew(session: Session): Promise<Session> {
  const ticket = readTicket();
  if (!ticket) throw new ApiError(401, 'no ticket');
  const resp = await api.post<TicketResponse>(
    '/access/ticket',
    { username: session.username, password: ticket },
    { anonymous: true },
  );
  return store(resp);
}

export function logout(): void {
  writeTicket(null);
  setCsrfToken(null);
  sessionStorage.removeItem(STORAGE_KEY);
}
