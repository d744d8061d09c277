/**
 * `acceptEvents()`: the one path every ingested event takes, whichever route
 * it came by. In order: validate each event with the shared schema, resolve
 * its visitor (`visitor.ts`), shape it for the queue, enrich it (SPEC §10
 * plugs in at the marked step), pass the admission gate (`admission.ts`:
 * origins, bots, rate limits), enqueue it, and set the visitor cookie. It resolves once the
 * events are durable in the queue, or dropped by the gate.
 */
import { type Event, eventSchema, formatIssues } from '@tally/shared';
import type { Context } from 'hono';
import type { Logger } from 'pino';
import type { Database } from '../db/client.js';
import type { Env } from '../env.js';
import { QueueUnavailableError, ValidationError } from '../errors.js';
import type { EventQueue, QueuedEvent } from '../queue/types.js';
import type { SiteSettingsCache } from '../sites/settings-cache.js';
import { type AdmissionGate, admitEvents } from './admission.js';
import { createBotFilter, markFiltered } from './bot-filter.js';
import { createEnricher, type Enricher, type GeoDatabase, pageHostOf } from './enrich.js';
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
  /** Each site's allowed host names; none checked when absent. */
  siteSettings?: SiteSettingsCache;
}

/** The ingestion dependencies the configuration asks for (privacy mode, bots, rate limits). */
export function createIngestDeps({
  queue,
  config,
  logger,
  db,
  rateLimitStore,
  geoip,
  siteSettings,
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
  siteSettings?: SiteSettingsCache | undefined;
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
  if (config.ALLOWED_ORIGINS.length > 0) deps.allowedOrigins = new Set(config.ALLOWED_ORIGINS);
  if (siteSettings) deps.siteSettings = siteSettings;
  if (config.BOT_FILTER) deps.botFilter = createBotFilter();
  if (rateLimiter) deps.rateLimiter = rateLimiter;
  return deps;
}

/**
 * The one rule for time: an event's timestamp is cut to whole milliseconds, in
 * UTC, before it is queued. JS keeps milliseconds and PostgreSQL microseconds,
 * and PostgreSQL rounds where JS truncates: `23:59:59.9999999Z` would be the
 * next day in the database and this day here (cookieless salt, metrics).
 */
export function queuedTimestamp(timestamp: string): string {
  return new Date(Date.parse(timestamp)).toISOString();
}

/** `event` as queued, with its timestamp as cut by `queuedTimestamp` (cut here when not given). */
export function toQueuedEvent(
  event: Event,
  visitorId: string,
  receivedAt: number,
  timestamp = queuedTimestamp(event.timestamp),
): QueuedEvent {
  const queued: QueuedEvent = {
    eventId: event.eventId?.toLowerCase() ?? crypto.randomUUID(),
    visitorId,
    siteId: event.siteId,
    eventType: event.eventType,
    path: event.path,
    timestamp,
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

const withoutWww = (host: string) => (host.startsWith('www.') ? host.slice(4) : host);

/**
 * Enriches the events (SPEC §10), the site's allowed host names counting as
 * its own (no source), and drops those of a site with `allowedHostnames` whose
 * page host (the request's `Origin`, else `Referer`) is not among them (SPEC §9;
 * answered like the rest, counted in /metrics as `hostname`).
 */
async function enrichAndCheckHosts(c: Context, deps: IngestDeps, events: QueuedEvent[]): Promise<QueuedEvent[]> {
  if (!deps.siteSettings) {
    deps.enricher.enrich(c, events);
    return events;
  }
  const bySite = new Map<string, QueuedEvent[]>();
  for (const event of events) {
    const siteEvents = bySite.get(event.siteId);
    if (siteEvents) siteEvents.push(event);
    else bySite.set(event.siteId, [event]);
  }
  const pageHost = pageHostOf(c);
  const kept: QueuedEvent[] = [];
  let dropped = 0;
  for (const [siteId, siteEvents] of bySite) {
    const { allowedHostnames } = await deps.siteSettings.get(siteId);
    if (allowedHostnames && !(pageHost && allowedHostnames.some((h) => withoutWww(h) === withoutWww(pageHost)))) {
      dropped += siteEvents.length;
      continue;
    }
    deps.enricher.enrich(c, siteEvents, allowedHostnames ?? []);
    kept.push(...siteEvents);
  }
  if (dropped > 0) markFiltered(c, 'hostname', dropped);
  if (bySite.size === 1 || dropped === 0) return kept.length === events.length ? events : kept;
  const keep = new Set(kept);
  return events.filter((event) => keep.has(event)); // request order, across sites
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

  // Each timestamp cut once; its UTC day picks the cookieless salt.
  const timestamps = valid.map(({ event }) => queuedTimestamp(event.timestamp));
  const days = timestamps.map((timestamp) => timestamp.slice(0, 10));
  const requestVisitors = await deps.visitors.forRequest(c, days);
  const receivedAt = Date.now();
  const accepted = valid.map(({ event }, i) =>
    toQueuedEvent(
      event,
      requestVisitors.of(event.siteId, event.visitorId, days[i] as string),
      receivedAt,
      timestamps[i] as string,
    ),
  );
  // Enrichment (SPEC §10: source, channel, device, geo) derives its fields here, from the request and the event.
  const allowed = await enrichAndCheckHosts(c, deps, accepted);
  if (allowed.length > 0 && (await admitEvents(c, deps, allowed))) {
    try {
      await deps.queue.enqueueEvents(allowed);
    } catch (error) {
      if (!(error instanceof QueueUnavailableError)) throw error;
      throw error.withEventIds(
        allowed.map((event) => event.eventId),
        { batch },
      );
    }
  }

  requestVisitors.finish(c);
  return { accepted, rejected, visitorId: requestVisitors.requestVisitorId() };
}
