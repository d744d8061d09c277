/** `POST /api/event`: one event, validated, queued, answered 202 (SPEC §2). */
import { type EventAccepted, eventSchema, formatIssues } from '@tally/shared';
import { Hono } from 'hono';
import { ValidationError } from '../errors.js';
import { readJsonBody, toQueuedEvent } from '../ingest.js';
import { enqueueAdmitted } from '../ingest-guard.js';
import type { IngestDeps } from './ingest-deps.js';

export function eventRoutes(deps: IngestDeps) {
  const { visitors } = deps;
  return new Hono().post('/', async (c) => {
    const parsed = eventSchema.safeParse(await readJsonBody(c));
    if (!parsed.success) throw new ValidationError(formatIssues(parsed.error.issues));

    const requestVisitors = await visitors.forRequest(c);
    const visitorId = requestVisitors.of(parsed.data.siteId, parsed.data.visitorId);
    const event = toQueuedEvent(parsed.data, visitorId, Date.now());
    const events = [event];
    await enqueueAdmitted(c, deps, events);

    requestVisitors.finish(c);
    return c.json<EventAccepted>({ success: true, eventId: event.eventId, visitorId }, 202);
  });
}
