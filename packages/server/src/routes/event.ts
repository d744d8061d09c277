/** `POST /api/event`: one event, validated, queued, answered 202 (SPEC §2). */
import { type EventAccepted, eventSchema, formatIssues } from '@tally/shared';
import { Hono } from 'hono';
import { ValidationError } from '../errors.js';
import { readJsonBody, readVisitorCookie, resolveVisitorId, toQueuedEvent, visitorCookie } from '../ingest.js';
import type { IngestDeps } from './ingest-deps.js';

export function eventRoutes({ queue, cookie }: IngestDeps) {
  return new Hono().post('/', async (c) => {
    const parsed = eventSchema.safeParse(await readJsonBody(c));
    if (!parsed.success) throw new ValidationError(formatIssues(parsed.error.issues));

    const cookieVisitorId = readVisitorCookie(c.req.header('cookie'));
    const visitorId = resolveVisitorId(cookieVisitorId, parsed.data.visitorId);
    const event = toQueuedEvent(parsed.data, visitorId, Date.now());
    await queue.enqueueEvents([event]);

    if (!cookieVisitorId) c.header('Set-Cookie', visitorCookie(visitorId, cookie));
    return c.json<EventAccepted>({ success: true, eventId: event.eventId, visitorId }, 202);
  });
}
