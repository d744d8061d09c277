/**
 * What both ingestion routes share: reading a JSON body that may arrive as
 * `text/plain` (what `sendBeacon` sends), the visitor cookie, and turning a
 * validated event into the job payload. Which visitor an event belongs to is
 * `privacy/visitor-id.ts`'s call.
 */
import type { Event, QueuedEvent } from '@tally/shared';
import { UUID_PATTERN, VISITOR_COOKIE, VISITOR_COOKIE_MAX_AGE_SECONDS } from '@tally/shared';
import type { Context } from 'hono';
import { UnsupportedMediaTypeError, ValidationError } from './errors.js';

const BLANK = /^\s*$/;
const JSON_OR_TEXT = /^(application\/([a-z0-9.+-]*\+)?json|text\/plain)\s*(;|$)/i;

/** Parses the body as JSON whatever of `application/json` or `text/plain` it came as. */
export async function readJsonBody(c: Context): Promise<unknown> {
  const contentType = c.req.header('content-type') ?? '';
  if (contentType !== '' && !JSON_OR_TEXT.test(contentType)) throw new UnsupportedMediaTypeError(contentType);
  const text = await c.req.text();
  // A regex stops at the first non-blank character; trim() would copy the whole body.
  if (BLANK.test(text)) throw new ValidationError(['body should not be empty']);
  try {
    return JSON.parse(text);
  } catch {
    throw new ValidationError(['body must be valid JSON']);
  }
}

/** The `visitor_id` cookie's value when it holds a UUID; parsed by hand, as it is on every request. */
export function readVisitorCookie(cookieHeader: string | undefined): string | undefined {
  if (!cookieHeader) return undefined;
  const name = `${VISITOR_COOKIE}=`;
  let at = cookieHeader.indexOf(name);
  while (at > 0 && cookieHeader[at - 1] !== ' ' && cookieHeader[at - 1] !== ';')
    at = cookieHeader.indexOf(name, at + 1);
  if (at < 0) return undefined;
  const start = at + name.length;
  const end = cookieHeader.indexOf(';', start);
  const value = (end < 0 ? cookieHeader.slice(start) : cookieHeader.slice(start, end)).trim();
  return UUID_PATTERN.test(value) ? value.toLowerCase() : undefined;
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

export function toQueuedEvent(event: Event, visitorId: string, receivedAt: number): QueuedEvent {
  const queued: QueuedEvent = {
    eventId: event.eventId?.toLowerCase() ?? crypto.randomUUID(),
    visitorId,
    siteId: event.siteId,
    eventType: event.eventType,
    path: event.path,
    timestamp: event.timestamp,
    receivedAt,
  };
  if (event.userId !== undefined) queued.userId = event.userId;
  if (event.referrer !== undefined) queued.referrer = event.referrer;
  if (event.props !== undefined) queued.props = event.props;
  return queued;
}
