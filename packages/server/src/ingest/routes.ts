/**
 * The ingestion routes (SPEC §2), mounted at `/api`: `POST /event` (one event)
 * and `POST /events` (a batch from the SDK, whose valid events are queued even
 * when others are not). Both read the body the same way and hand the events to
 * `acceptEvents()`; they differ only in the envelope and the answer.
 */
import { type BatchAccepted, batchSchema, type EventAccepted, formatIssues } from '@tally/shared';
import { Hono } from 'hono';
import { ValidationError } from '../errors.js';
import { acceptEvents, type IngestDeps } from './accept.js';
import { readJsonBody } from './body.js';

export function ingestRoutes(deps: IngestDeps) {
  return new Hono()
    .post('/event', async (c) => {
      const { accepted, visitorId } = await acceptEvents(c, deps, [await readJsonBody(c)], { batch: false });
      const [event] = accepted as [(typeof accepted)[number]];
      return c.json<EventAccepted>({ success: true, eventId: event.eventId, visitorId }, 202);
    })
    .post('/events', async (c) => {
      const envelope = batchSchema.safeParse(await readJsonBody(c));
      if (!envelope.success) throw new ValidationError(formatIssues(envelope.error.issues));

      const { accepted, rejected, visitorId } = await acceptEvents(c, deps, envelope.data.events, { batch: true });
      c.set('batchSplit', { accepted: accepted.length, rejected: rejected.length });
      return c.json<BatchAccepted>(
        { success: true, accepted: accepted.length, eventIds: accepted.map((e) => e.eventId), rejected, visitorId },
        202,
      );
    });
}
