/**
 * `acceptEvents()`: the one path every ingested event takes, whichever route
 * it came by. In order: validate each event with the shared schema, resolve
 * its visitor (`visitor.ts`), shape it for the queue, enrich it (SPEC §10
 * plugs in at the marked step), pass the admission gate (`admission.ts`: bots,
 * rate limits), enqueue it, and set the visitor cookie. It resolves once the
 * events are durable in the queue, or dropped by the gate.
 */
import { type Event, eventSchema, formatIssues } from '@tally/shared';
import type { Context } from 'hono';
import type { Logger } from 'pino';
import type { Database } from '../db/client.js';
import type { Env } from '../env.js';
import { ValidationError } from '../errors.js';
import type { EventQueue, QueuedEvent } from '../queue/types.js';
import { type AdmissionGate, admitEvents } from './admission.js';
import { createBotFilter } from './bot-filter.js';
import { createEnricher, type Enricher, type GeoDatabase } from './enrich.js';
import { createRateLimiter, memoryRateLimitStore, type RateLimitStore } from './rate-limit.js';
import { postgresSaltStore } from './salts.js';
import { cookielessVisitorIds, cookieVisitorIds, type VisitorIds } from './visitor.js';

/** What ingestion needs: where events go, whose they are, and who may send them (the gate). */
export interface IngestDeps extends AdmissionGate {
  queue: EventQueue;
  /** Resolves each event's visitor, in cookie or cookieless mode. */
  visitors: VisitorIds;
  /** Derives source, channel, device, browser, OS, place and language (SPEC §10). */
  enricher: Enricher;
}

/** The ingestion dependencies the configuration asks for (privacy mode, bots, rate limits). */
export function createIngestDeps({
  queue,
  config,
  logger,
  db,
  rateLimitStore,
  geoip,
}: {
  queue: EventQueue;
  config: Env;
  logger: Logger;
  /** Where cookieless mode keeps its daily salts. */
  db: Database;
  /** Redis in production, so every instance counts together; in process when absent. */
  rateLimitStore?: RateLimitStore | undefined;
  /** The `GEOIP_DATABASE`, opened at startup. */
  geoip?: GeoDatabase | undefined;
}): IngestDeps {
  const visitors =
    config.VISITOR_ID_MODE === 'cookieless'
      ? cookielessVisitorIds({ salts: postgresSaltStore(db), trustProxy: config.TRUST_PROXY })
      : cookieVisitorIds({ domain: config.COOKIE_DOMAIN, crossSite: config.COOKIE_CROSS_SITE });
  const rateLimiter = createRateLimiter({
    store: rateLimitStore ?? memoryRateLimitStore(),
    prefix: config.QUEUE_PREFIX,
    ipPerMinute: config.RATE_LIMIT_IP_PER_MINUTE,
    sitePerMinute: config.RATE_LIMIT_SITE_PER_MINUTE,
    logger,
  });
  const enricher = createEnricher({ geoip, trustProxy: config.TRUST_PROXY });
  const deps: IngestDeps = { queue, visitors, enricher, trustProxy: config.TRUST_PROXY };
  if (config.BOT_FILTER) deps.botFilter = createBotFilter();
  if (rateLimiter) deps.rateLimiter = rateLimiter;
  return deps;
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
  for (const field of ['utmSource', 'utmMedium', 'utmCampaign', 'utmTerm', 'utmContent', 'language'] as const) {
    const value = event[field];
    if (value !== undefined && value !== '') queued[field] = value;
  }
  if (event.screenWidth !== undefined) queued.screenWidth = event.screenWidth;
  return queued;
}

export interface Rejection {
  index: number;
  message: string[];
}

export interface AcceptedEvents {
  /** The valid events, as queued (or as dropped by the gate: the client is answered the same). */
  accepted: QueuedEvent[];
  /** The invalid ones, by their index in the request. */
  rejected: Rejection[];
  /** The visitor the response names. */
  visitorId: string;
}

/**
 * Validates, identifies, admits and queues `inputs`. Throws `ValidationError`
 * when none is valid: with the messages as they are for one event, and as
 * `events.<index>.<message>` for a batch.
 */
export async function acceptEvents(
  c: Context,
  deps: IngestDeps,
  inputs: readonly unknown[],
  { batch }: { batch: boolean },
): Promise<AcceptedEvents> {
  const valid: { index: number; event: Event }[] = [];
  const rejected: Rejection[] = [];
  inputs.forEach((input, index) => {
    const parsed = eventSchema.safeParse(input);
    if (parsed.success) valid.push({ index, event: parsed.data });
    else rejected.push({ index, message: formatIssues(parsed.error.issues) });
  });
  if (valid.length === 0) {
    throw new ValidationError(
      batch ? rejected.flatMap((r) => r.message.map((m) => `events.${r.index}.${m}`)) : (rejected[0]?.message ?? []),
    );
  }

  const requestVisitors = await deps.visitors.forRequest(c);
  const receivedAt = Date.now();
  const accepted = valid.map(({ event }) =>
    toQueuedEvent(event, requestVisitors.of(event.siteId, event.visitorId), receivedAt),
  );
  deps.enricher.enrich(c, accepted);
  if (await admitEvents(c, deps, accepted)) await deps.queue.enqueueEvents(accepted);

  requestVisitors.finish(c);
  return { accepted, rejected, visitorId: requestVisitors.requestVisitorId() };
}
