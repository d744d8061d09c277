/**
 * The operator surface of SPEC §2 against the real PostgreSQL and Redis: API
 * docs generated from the shared schemas, Bull Board and its auth rules,
 * Prometheus metrics from a per-app registry, and request ids.
 */
import * as shared from '@tally/shared';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type AppDeps, createApp } from '../src/app.js';
import { DOCUMENTED_SCHEMAS } from '../src/http/openapi.js';
import { createMetrics } from '../src/metrics.js';
import { createRedisConnection } from '../src/queue/connection.js';
import { startBullWorker } from '../src/queue/events-queue.js';
import type { QueueWorker } from '../src/queue/types.js';
import { fixedJobWindow } from '../src/worker/job-window.js';
import { createBatchProcessor } from '../src/worker/processor.js';
import { pageView, postJson, silentLogger, startTestStack, type TestStack, testConfig } from './support.js';

let stack: TestStack;
const workers: QueueWorker[] = [];

beforeAll(async () => {
  stack = await startTestStack({ worker: false });
});
afterAll(async () => {
  await Promise.all(workers.map((worker) => worker.close()));
  await stack?.close();
});

/** An app over this file's stack with its own configuration and, unless told otherwise, Bull Board. */
function appWith(env: Record<string, string> = {}, extra: Partial<AppDeps> = {}) {
  return createApp({
    statsDb: stack.database.db,
    pingDatabase: stack.database.ping,
    queue: stack.queue,
    config: testConfig({ DATABASE_URL: stack.testDatabase.url, QUEUE_PREFIX: stack.prefix, ...env }),
    logger: silentLogger,
    bullQueue: stack.queue.queue,
    ...extra,
  });
}

const basic = (user: string, password: string) => ({
  Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});

describe('API docs', () => {
  it('serves an OpenAPI 3.1 document naming every route of the app and every shared schema', async () => {
    const app = appWith();
    const response = await app.request('/api/openapi.json');
    expect(response.status).toBe(200);
    const document = (await response.json()) as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
      components: { schemas: Record<string, Record<string, unknown>> };
    };
    expect(document.openapi).toBe('3.1.0');

    // Every route a client can call, read from the app itself, is documented with its method.
    const undocumented = app.routes
      .filter((route) => ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].includes(route.method))
      .filter((route) => !/^\/api(\/docs\/|\/queues\/admin|$)/.test(route.path))
      // The HTML pages for people: the home page and the dashboard (docs/dashboard.md).
      .filter((route) => !/^\/($|dashboard)/.test(route.path))
      // Hono's `:param` is OpenAPI's `{param}`.
      .filter(
        (route) =>
          !document.paths[route.path.replace(/:(\w+)/g, '{$1}').replace(/(.)\/$/, '$1')]?.[route.method.toLowerCase()],
      )
      .map((route) => `${route.method} ${route.path}`);
    expect(undocumented).toEqual([]);
    for (const path of [
      '/api/event',
      '/api/events',
      '/api/stats',
      '/api/query',
      '/api/queues/health',
      '/healthz',
      '/readyz',
      '/metrics',
    ]) {
      expect(Object.keys(document.paths)).toContain(path);
    }

    // Every zod schema @tally/shared exports is a component, or (the event's parts) inside one.
    const parts: Record<string, [component: string, property: string]> = {
      timestampSchema: ['Event', 'timestamp'],
      propsSchema: ['Event', 'props'],
      siteIdSchema: ['Event', 'siteId'],
      metricSchema: ['QueryRequest', 'metrics'],
      dimensionNameSchema: ['QueryRequest', 'dimensions'],
      filterDimensionSchema: ['QueryRequest', 'filters'],
      filterSchema: ['QueryRequest', 'filters'],
      dateRangeSchema: ['QueryRequest', 'dateRange'],
      orderDirectionSchema: ['QueryRequest', 'orderBy'],
      queryResultRowSchema: ['QueryResponse', 'results'],
    };
    const documented = new Set<unknown>(Object.values(DOCUMENTED_SCHEMAS).map((entry) => entry.schema));
    const exported = Object.entries(shared).filter(([, value]) => value instanceof z.ZodType);
    expect(exported.length).toBeGreaterThan(5);
    for (const [name, schema] of exported) {
      const part = parts[name];
      if (part) {
        expect(document.components.schemas[part[0]]?.properties, name).toHaveProperty(part[1]);
      } else {
        expect(documented.has(schema), `${name} is not in the OpenAPI document`).toBe(true);
      }
    }
    for (const name of Object.keys(DOCUMENTED_SCHEMAS)) expect(document.components.schemas).toHaveProperty(name);

    // Generated, not written: the limits of the zod schemas show through.
    const event = document.components.schemas.Event as {
      required: string[];
      properties: Record<string, { pattern?: string; maxLength?: number }>;
      additionalProperties: boolean;
    };
    expect(event.required.sort()).toEqual(['eventType', 'path', 'siteId', 'timestamp']);
    expect(event.properties.path?.maxLength).toBe(shared.LIMITS.pathMaxLength);
    expect(event.properties.siteId?.pattern).toBe(shared.SITE_ID_PATTERN.source);
    expect(event.additionalProperties).toBe(false);
    const stats = document.paths['/api/stats']?.get as { parameters: { name: string; required: boolean }[] };
    expect(stats.parameters.map((p) => [p.name, p.required])).toEqual(
      expect.arrayContaining([
        ['siteId', true],
        ['date', false],
        ['limit', false],
      ]),
    );
  });

  it('serves Swagger UI from installed assets, not a CDN', async () => {
    const app = appWith();
    const page = await app.request('/api');
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('src="/api/docs/init.js"');
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(await (await app.request('/api/docs/init.js')).text()).toContain('"/api/openapi.json"');
    for (const asset of ['/api/docs/swagger-ui-bundle.js', '/api/docs/swagger-ui.css']) {
      const response = await app.request(asset);
      expect(response.status, asset).toBe(200);
      expect((await response.text()).length).toBeGreaterThan(1_000);
    }
    expect((await app.request('/api/docs/package.json')).status).toBe(404);
  });

  it('declares the stats key as a security scheme and no jsonSchemaDialect (which Swagger UI flags)', async () => {
    const document = (await (await appWith().request('/api/openapi.json')).json()) as {
      jsonSchemaDialect?: string;
      components: { securitySchemes: Record<string, { type: string; scheme: string }> };
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    };
    expect(document.jsonSchemaDialect).toBeUndefined();
    expect(document.components.securitySchemes.statsKey).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(document.paths['/api/stats']?.get?.security).toContainEqual({ statsKey: [] });
  });

  it('works under a mount prefix: the page loads its assets and document from there', async () => {
    const host = new Hono().route('/_t', appWith());
    const html = await (await host.request('/_t/api')).text();
    expect(html).toContain('src="/_t/api/docs/init.js"');
    expect(html).toContain('href="/_t/api/docs/swagger-ui.css"');
    expect(await (await host.request('/_t/api/docs/init.js')).text()).toContain('"/_t/api/openapi.json"');
    expect((await host.request('/_t/api/openapi.json')).status).toBe(200);
  });

  it('asks for basic auth when SWAGGER_USER and SWAGGER_PASSWORD are set, and only on the docs', async () => {
    const app = appWith({ SWAGGER_USER: 'docs', SWAGGER_PASSWORD: 's3cret' });
    for (const path of ['/api', '/api/openapi.json', '/api/docs/swagger-ui.css']) {
      const refused = await app.request(path);
      expect(refused.status, path).toBe(401);
      expect(refused.headers.get('WWW-Authenticate')).toMatch(/^Basic realm=/);
      expect(await refused.json()).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
      expect((await app.request(path, { headers: basic('docs', 'wrong') })).status).toBe(401);
      expect((await app.request(path, { headers: basic('docs', 's3cret') })).status).toBe(200);
    }
    expect((await app.request('/api/stats?siteId=nobody&date=2024-01-01')).status).toBe(404);
    expect((await app.request('/healthz')).status).toBe(200);
  });

  it('is off with SWAGGER_ENABLED=false', async () => {
    const app = appWith({ SWAGGER_ENABLED: 'false' });
    expect((await app.request('/api')).status).toBe(404);
    expect((await app.request('/api/openapi.json')).status).toBe(404);
  });
});

describe('Bull Board', () => {
  it('shows the analytics-events queue at /api/queues/admin', async () => {
    const app = appWith();
    const page = await app.request('/api/queues/admin');
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<html');
    const api = await app.request('/api/queues/admin/api/queues');
    expect(api.status).toBe(200);
    const body = (await api.json()) as { queues: { name: string }[] };
    expect(body.queues.map((queue) => queue.name)).toEqual([shared.EVENTS_QUEUE_NAME]);
  });

  it('asks for basic auth when BULL_BOARD_USER and BULL_BOARD_PASSWORD are set', async () => {
    const app = appWith({ BULL_BOARD_USER: 'ops', BULL_BOARD_PASSWORD: 'pw' });
    for (const path of ['/api/queues/admin', '/api/queues/admin/api/queues']) {
      expect((await app.request(path)).status, path).toBe(401);
      expect((await app.request(path, { headers: basic('ops', 'pw') })).status, path).toBe(200);
    }
    // The queue health route beside it stays open.
    expect((await app.request('/api/queues/health')).status).toBe(200);
  });

  it('is not mounted in production without credentials, and is with them', async () => {
    expect((await appWith({ NODE_ENV: 'production' }).request('/api/queues/admin')).status).toBe(404);
    const guarded = appWith({ NODE_ENV: 'production', BULL_BOARD_USER: 'ops', BULL_BOARD_PASSWORD: 'pw' });
    expect((await guarded.request('/api/queues/admin')).status).toBe(401);
    expect((await guarded.request('/api/queues/admin', { headers: basic('ops', 'pw') })).status).toBe(200);
  });

  it('is not mounted without a BullMQ queue (the embedded default)', async () => {
    const app = appWith({}, { bullQueue: undefined });
    expect((await app.request('/api/queues/admin')).status).toBe(404);
  });
});

describe('metrics and request ids', () => {
  it('counts requests, ingested events, queue depth, jobs and processing latency', async () => {
    const metrics = createMetrics({ queue: stack.queue, processMetrics: false });
    const app = appWith({}, { metrics });
    const single = await postJson(app, '/api/event', pageView({ siteId: 'metrics_site' }));
    expect(single.status).toBe(202);
    const batch = await postJson(app, '/api/events', {
      events: [pageView({ siteId: 'metrics_site' }), pageView({ siteId: 'metrics_site' }), { siteId: '' }],
    });
    expect(batch.status).toBe(202);
    expect((await postJson(app, '/api/event', { siteId: 'metrics_site' })).status).toBe(400);

    // Before a worker runs, the two jobs wait.
    let text = await (await app.request('/metrics')).text();
    expect(text).toMatch(/^tally_queue_jobs\{state="waiting"\} 2$/m);

    const processor = createBatchProcessor({ db: stack.database.db, logger: silentLogger, onFolded: metrics.onFolded });
    workers.push(
      startBullWorker({
        connection: createRedisConnection(stack.config, 'worker'),
        prefix: stack.prefix,
        jobWindow: fixedJobWindow(2),
        processor: metrics.instrumentProcessor(processor),
        logger: silentLogger,
      }),
    );
    await stack.drain();

    const response = await app.request('/metrics');
    expect(response.status).toBe(200);
    expect(response.headers.get('Content-Type')).toMatch(/^text\/plain/);
    text = await response.text();
    expect(text).toMatch(/^tally_http_requests_total\{method="POST",route="\/api\/event",status="202"\} 1$/m);
    expect(text).toMatch(/^tally_http_requests_total\{method="POST",route="\/api\/event",status="400"\} 1$/m);
    expect(text).toMatch(/^tally_ingest_events_total\{outcome="accepted"\} 3$/m);
    expect(text).toMatch(/^tally_ingest_events_total\{outcome="rejected"\} 2$/m);
    expect(text).toMatch(/^tally_queue_jobs\{state="waiting"\} 0$/m);
    expect(text).toMatch(/^tally_jobs_total\{outcome="processed"\} 2$/m);
    expect(text).toMatch(/^tally_events_folded_total\{result="counted"\} 3$/m);
    expect(text).toMatch(/^tally_event_processing_seconds_count 3$/m);
  });

  it('keeps one registry per app', async () => {
    const first = appWith();
    const second = appWith();
    await first.request('/healthz');
    const text = await (await second.request('/metrics')).text();
    expect(text).not.toContain('route="/healthz"');
    expect(text).toContain('tally_process_resident_memory_bytes');
  });

  it('answers every request with a request id, keeping one the caller sent', async () => {
    const app = appWith();
    const generated = await app.request('/healthz');
    expect(generated.headers.get('X-Request-Id')).toMatch(/^[0-9a-f-]{36}$/);
    const kept = await app.request('/healthz', { headers: { 'X-Request-Id': 'trace-abc-123' } });
    expect(kept.headers.get('X-Request-Id')).toBe('trace-abc-123');
  });
});
