/**
 * Request metrics: every answer counted by method, matched route (the pattern,
 * never the raw URL, so label sets stay few) and status; ingestion answers also
 * counted by how many events they accepted or refused.
 */
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { Metrics } from '../metrics.js';

declare module 'hono' {
  interface ContextVariableMap {
    /** Set by `POST /api/events` on a 202, so the metrics need not parse the response again. */
    batchSplit?: { accepted: number; rejected: number };
  }
}

export function requestMetrics({ metrics }: { metrics: Metrics }): MiddlewareHandler {
  return async function requestMetricsHandler(c, next) {
    const started = performance.now();
    await next();
    const route = routePath(c, -1) || 'unmatched';
    metrics.httpRequests.inc({ method: c.req.method, route, status: String(c.res.status) });
    metrics.httpDuration.observe({ method: c.req.method, route }, (performance.now() - started) / 1000);
  };
}

/**
 * Mounted on `/api/event` and `/api/events`. A refused request counts as one
 * rejected event whatever it held; an accepted batch reports its own split;
 * events the admission gate dropped (bots, answered 202) or refused (origins,
 * answered 403) count as filtered by reason, not as accepted or rejected.
 */
export function ingestMetrics({ metrics }: { metrics: Metrics }): MiddlewareHandler {
  return async function ingestMetricsHandler(c, next) {
    await next();
    if (c.req.method !== 'POST') return;
    const status = c.res.status;
    const filtered = c.get('filteredEvents') ?? [];
    let dropped = 0;
    for (const { reason, events } of filtered) {
      metrics.filteredEvents.inc({ reason }, events);
      dropped += events;
    }
    // Refused by origin (403): counted as filtered only.
    if (filtered.length > 0 && status !== 202) return;
    if (status === 202) {
      const split = c.get('batchSplit');
      const accepted = (split?.accepted ?? 1) - dropped;
      if (accepted > 0) metrics.ingestEvents.inc({ outcome: 'accepted' }, accepted);
      if (split && split.rejected > 0) metrics.ingestEvents.inc({ outcome: 'rejected' }, split.rejected);
    } else if (status >= 400 && status < 500) {
      metrics.ingestEvents.inc({ outcome: 'rejected' });
    } else if (status >= 500) {
      metrics.ingestEvents.inc({ outcome: 'failed' });
    }
  };
}
