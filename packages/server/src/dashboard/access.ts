/**
 * Who may see a site's figures (SPEC §13): anyone for a `public` site; a
 * holder of a stats key (`STATS_API_KEYS`) as a bearer token, or as the
 * dashboard's session cookie that a key login sets; a holder of the site's
 * share secret. The cookie counts only on same-origin requests, so a page on
 * another site cannot spend it (CSRF); it is HttpOnly and SameSite=Strict too.
 *
 * The session cookie holds no key: it is `<expiry>.<HMAC>` signed with a
 * secret derived from the configured stats keys, so any instance with the same
 * keys accepts it and changing the keys ends every session.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { getCookie } from 'hono/cookie';

export const SESSION_COOKIE = 'tally_dashboard';
/** A week: long enough not to nag, short enough that a lost laptop's session ends on its own. */
export const SESSION_MAX_AGE_SECONDS = 7 * 24 * 60 * 60;
/** The header the dashboard's script sends a share secret in (from its `?share=` link). */
export const SHARE_HEADER = 'x-tally-share';

/** What the dashboard needs to know of a site; `undefined` for a site that does not exist. */
export interface SiteAccess {
  public: boolean;
  shareSecret: string | null;
}
export type SiteAccessLookup = (siteId: string) => Promise<SiteAccess | undefined>;

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;
const digest = (value: string) => createHash('sha256').update(value).digest();

/** Equal strings, in time that shows neither content nor length. */
export function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** Whether `token` is one of `keys`, compared with every key without stopping early. */
export function isStatsKey(keys: readonly string[], token: string | undefined): boolean {
  const presented = digest(token ?? '');
  let matched = false;
  for (const key of keys) matched = timingSafeEqual(digest(key), presented) || matched;
  return token !== undefined && token !== '' && matched;
}

export function bearerToken(c: Context): string | undefined {
  return BEARER.exec(c.req.header('authorization') ?? '')?.[1];
}

/** A fresh share secret: 144 random bits, URL-safe. */
export function newShareSecret(): string {
  return randomBytes(18).toString('base64url');
}

/** Signs and checks dashboard session cookies for one set of stats keys. */
export function createSessions(keys: readonly string[]) {
  const secret = createHash('sha256')
    .update(`tally-dashboard-session\0${[...keys].sort().join('\0')}`)
    .digest();
  const sign = (expires: string) => createHmac('sha256', secret).update(expires).digest('base64url');
  return {
    issue(now = Date.now()): string {
      const expires = String(Math.floor(now / 1000) + SESSION_MAX_AGE_SECONDS);
      return `${expires}.${sign(expires)}`;
    },
    verify(token: string | undefined, now = Date.now()): boolean {
      if (!token) return false;
      const [expires = '', signature = ''] = token.split('.');
      if (!/^\d{1,12}$/.test(expires)) return false;
      const valid = sameSecret(signature, sign(expires));
      return valid && Number(expires) * 1000 > now;
    },
  };
}
export type Sessions = ReturnType<typeof createSessions>;

/**
 * The request comes from a page of this same origin: `Sec-Fetch-Site: same-origin`
 * (every current browser sends it), or, from a browser too old for that header,
 * an `Origin` equal to the request's own. Neither header: not a browser page, so
 * no ambient cookie can have been spent on someone else's behalf — but such a
 * client can send the bearer key itself, so it is refused the cookie all the same.
 */
export function isSameOrigin(c: Context): boolean {
  const site = c.req.header('sec-fetch-site');
  if (site !== undefined) return site === 'same-origin';
  const origin = c.req.header('origin');
  if (origin === undefined) return false;
  return origin === new URL(c.req.url).origin;
}

/** A valid dashboard session cookie on a same-origin request. */
export function hasSession(c: Context, sessions: Sessions): boolean {
  return isSameOrigin(c) && sessions.verify(getCookie(c, SESSION_COOKIE));
}

/** The share secret given as `secret` opens `access`'s site. */
export function shareOpens(access: SiteAccess | undefined, secret: string | undefined): boolean {
  if (!access?.shareSecret || !secret) return false;
  return sameSecret(secret, access.shareSecret);
}
