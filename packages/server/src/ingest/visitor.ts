/**
 * Who a request's events belong to, in the mode `VISITOR_ID_MODE` picks. The
 * routes ask `forRequest(c, days)` once and then `of(siteId, visitorId, day)` per event,
 * whatever the mode:
 *
 * - `cookie` (SPEC §2): a valid `visitor_id` cookie, else the `visitorId` the
 *   SDK sent, else a new UUID; the cookie is set when the request had none.
 * - `cookieless`: an HMAC-SHA256 of site, client IP and User-Agent keyed with
 *   the day's secret salt, shaped as a UUID (version 8). No cookie, no id from
 *   the client; the IP is hashed, never stored, and once a salt is deleted
 *   nobody can link a visitor across days.
 */
import { createHmac } from 'node:crypto';
import { UUID_PATTERN, VISITOR_COOKIE, VISITOR_COOKIE_MAX_AGE_SECONDS } from '@tally/shared';
import type { Context } from 'hono';
import { clientIp } from './client-ip.js';
import type { SaltStore } from './salts.js';

/**
 * The first `visitor_id` cookie holding a UUID; parsed by hand, as it is on
 * every request. A browser may send the name more than once (cookies of
 * different paths or domains, e.g. `visitor_id=junk; visitor_id=<uuid>`): a
 * junk one must not hide a good one.
 */
export function readVisitorCookie(cookieHeader: string | undefined): string | undefined {
  if (!cookieHeader) return undefined;
  const name = `${VISITOR_COOKIE}=`;
  for (let at = cookieHeader.indexOf(name); at >= 0; at = cookieHeader.indexOf(name, at + 1)) {
    if (at > 0 && cookieHeader[at - 1] !== ' ' && cookieHeader[at - 1] !== ';') continue;
    const start = at + name.length;
    const end = cookieHeader.indexOf(';', start);
    const value = (end < 0 ? cookieHeader.slice(start) : cookieHeader.slice(start, end)).trim();
    if (UUID_PATTERN.test(value)) return value.toLowerCase();
  }
  return undefined;
}

export interface CookieOptions {
  domain?: string;
  crossSite: boolean;
}

export function visitorCookie(visitorId: string, { domain, crossSite }: CookieOptions): string {
  let cookie = `${VISITOR_COOKIE}=${visitorId}; Max-Age=${VISITOR_COOKIE_MAX_AGE_SECONDS}; Path=/; HttpOnly`;
  cookie += crossSite ? '; SameSite=None; Secure' : '; SameSite=Lax';
  if (domain) cookie += `; Domain=${domain}`;
  return cookie;
}

export interface RequestVisitors {
  /** The visitor of one event of this request; `day` is the event's UTC day (YYYY-MM-DD). */
  of(siteId: string, bodyVisitorId: string | undefined, day: string): string;
  /** The visitor the response names: the cookie's, else the first event's. */
  requestVisitorId(): string;
  /** Sets the visitor cookie when the mode and the request call for one. */
  finish(c: Context): void;
}

export interface VisitorIds {
  /** `days`: the UTC days of the request's events, for the modes whose ids depend on the day. */
  forRequest(c: Context, days: readonly string[]): RequestVisitors | Promise<RequestVisitors>;
}

class CookieVisitors implements RequestVisitors {
  private fallback: string | undefined;
  constructor(
    private readonly cookieVisitorId: string | undefined,
    private readonly cookie: CookieOptions,
  ) {}

  of(_siteId: string, bodyVisitorId: string | undefined): string {
    if (this.cookieVisitorId) return this.cookieVisitorId;
    const sent = bodyVisitorId?.toLowerCase();
    // Events without their own visitorId share the request's, so one page's batch is one visitor.
    this.fallback ??= sent ?? crypto.randomUUID();
    return sent ?? this.fallback;
  }

  requestVisitorId(): string {
    this.fallback ??= crypto.randomUUID();
    return this.cookieVisitorId ?? this.fallback;
  }

  finish(c: Context): void {
    if (!this.cookieVisitorId) c.header('Set-Cookie', visitorCookie(this.requestVisitorId(), this.cookie));
  }
}

export function cookieVisitorIds(cookie: CookieOptions): VisitorIds {
  return { forRequest: (c) => new CookieVisitors(readVisitorCookie(c.req.header('cookie')), cookie) };
}

/** The first 16 bytes of a digest as a UUID string, with the version (8) and variant bits set. */
export function digestToUuid(digest: Buffer): string {
  const hex = digest.toString('hex', 0, 16);
  const variant = ((Number.parseInt(hex[16] as string, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** The cookieless visitor id: the same for a site, IP and User-Agent all day, unrelated the next day. */
export function hashVisitorId(salt: Buffer, siteId: string, ip: string, userAgent: string): string {
  return digestToUuid(createHmac('sha256', salt).update(`${siteId}\n${ip}\n${userAgent}`).digest());
}

class CookielessVisitors implements RequestVisitors {
  private lastKey: string | undefined;
  private lastVisitorId = '';
  private first: string | undefined;
  constructor(
    private readonly salts: ReadonlyMap<string, Buffer>,
    private readonly ip: string,
    private readonly userAgent: string,
  ) {}

  of(siteId: string, _bodyVisitorId: string | undefined, day: string): string {
    // A batch is nearly always one site and one day: hash once per request, not once per event.
    const key = `${day}\n${siteId}`;
    if (key !== this.lastKey) {
      this.lastKey = key;
      this.lastVisitorId = hashVisitorId(this.salts.get(day) as Buffer, siteId, this.ip, this.userAgent);
    }
    this.first ??= this.lastVisitorId;
    return this.lastVisitorId;
  }

  requestVisitorId(): string {
    return this.first ?? this.lastVisitorId;
  }

  finish(): void {}
}

export function cookielessVisitorIds({ salts, trustProxy }: { salts: SaltStore; trustProxy: number }): VisitorIds {
  return {
    forRequest(c, days) {
      const start = (byDay: Map<string, Buffer>) =>
        new CookielessVisitors(byDay, clientIp(c, trustProxy), c.req.header('user-agent') ?? '');
      const byDay = new Map<string, Buffer>();
      const pending: Promise<void>[] = [];
      for (const day of new Set(days)) {
        const salt = salts.forDay(day);
        if (salt instanceof Promise) pending.push(salt.then((loaded) => void byDay.set(day, loaded)));
        else byDay.set(day, salt);
      }
      return pending.length === 0 ? start(byDay) : Promise.all(pending).then(() => start(byDay));
    },
  };
}
