/**
 * `POST /api/events`: a batch from the SDK. Valid events are queued as one job
 * even when others in the batch are not; only an invalid envelope, or a batch
 * with nothing valid, is refused (SPEC §2).
 */
import { type BatchAccepted, batchSchema, eventSchema, formatIssues, type QueuedEvent } from '@tally/shared';
import { Hono } from 'hono';
import { ValidationError } from '../errors.js';
import { readJsonBody, toQueuedEvent } from '../ingest.js';
import { enqueueAdmitted } from '../ingest-guard.js';
import type { IngestDeps } from './ingest-deps.js';

export function eventsRoutes(deps: IngestDeps) {
  const { visitors } = deps;
  return new Hono().post('/', async (c) => {
    const envelope = batchSchema.safeParse(await readJsonBody(c));
    if (!envelope.success) throw new ValidationError(formatIssues(envelope.error.issues));

    const requestVisitors = await visitors.forRequest(c);
    const receivedAt = Date.now();
    const accepted: QueuedEvent[] = [];
    const rejected: BatchAccepted['rejected'] = [];
    envelope.data.events.forEach((input, index) => {
      const parsed = eventSchema.safeParse(input);
      if (!parsed.success) {
        rejected.push({ index, message: formatIssues(parsed.error.issues) });
        return;
      }
      const visitorId = requestVisitors.of(parsed.data.siteId, parsed.data.visitorId);
      accepted.push(toQueuedEvent(parsed.data, visitorId, receivedAt));
    });
    if (accepted.length === 0) {
      throw new ValidationError(rejected.flatMap((r) => r.message.map((m) => `events.${r.index}.${m}`)));
    }
    await enqueueAdmitted(c, deps, accepted);

    requestVisitors.finish(c);
    c.set('batchSplit', { accepted: accepted.length, rejected: rejected.length });
    return c.json<BatchAccepted>(
      {
        success: true,
        accepted: accepted.length,
        eventIds: accepted.map((e) => e.eventId),
        rejected,
        visitorId: requestVisitors.requestVisitorId(),
      },
      202,
    );
  });
}
