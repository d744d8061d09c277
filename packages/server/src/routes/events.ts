/**
 * `POST /api/events`: a batch from the SDK. Valid events are queued as one job
 * even when others in the batch are not; only an invalid envelope, or a batch
 * with nothing valid, is refused (SPEC §2).
 */
import { type BatchAccepted, batchSchema, eventSchema, formatIssues, type QueuedEvent } from '@tally/shared';
import { Hono } from 'hono';
import { ValidationError } from '../errors.js';
import { readJsonBody, readVisitorCookie, resolveVisitorId, toQueuedEvent, visitorCookie } from '../ingest.js';
import type { IngestDeps } from './ingest-deps.js';

export function eventsRoutes({ queue, cookie }: IngestDeps) {
  return new Hono().post('/', async (c) => {
    const envelope = batchSchema.safeParse(await readJsonBody(c));
    if (!envelope.success) throw new ValidationError(formatIssues(envelope.error.issues));

    const cookieVisitorId = readVisitorCookie(c.req.header('cookie'));
    const receivedAt = Date.now();
    const accepted: QueuedEvent[] = [];
    const rejected: BatchAccepted['rejected'] = [];
    let requestVisitorId = cookieVisitorId;
    envelope.data.events.forEach((input, index) => {
      const parsed = eventSchema.safeParse(input);
      if (!parsed.success) {
        rejected.push({ index, message: formatIssues(parsed.error.issues) });
        return;
      }
      // Events without their own visitorId share the request's, so one page's batch is one visitor.
      requestVisitorId ??= resolveVisitorId(undefined, parsed.data.visitorId);
      const visitorId = cookieVisitorId ?? parsed.data.visitorId?.toLowerCase() ?? requestVisitorId;
      accepted.push(toQueuedEvent(parsed.data, visitorId, receivedAt));
    });
    if (accepted.length === 0) {
      throw new ValidationError(rejected.flatMap((r) => r.message.map((m) => `events.${r.index}.${m}`)));
    }
    await queue.enqueueEvents(accepted);

    const visitorId = requestVisitorId as string;
    if (!cookieVisitorId) c.header('Set-Cookie', visitorCookie(visitorId, cookie));
    return c.json<BatchAccepted>(
      { success: true, accepted: accepted.length, eventIds: accepted.map((e) => e.eventId), rejected, visitorId },
      202,
    );
  });
}
