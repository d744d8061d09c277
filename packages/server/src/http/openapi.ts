/**
 * The OpenAPI 3.1 document behind `GET /api/openapi.json`, generated from the
 * `@tally/shared` zod schemas with `z.toJSONSchema` (JSON Schema 2020-12, the
 * dialect OpenAPI 3.1 speaks), so the documented contract is the validated one.
 * Only the paths, status codes and prose are written here.
 */
import {
  batchAcceptedSchema,
  batchSchema,
  errorResponseSchema,
  eventAcceptedSchema,
  eventSchema,
  LIMITS,
  livenessSchema,
  queryRequestSchema,
  queryResponseSchema,
  queueCountsSchema,
  readinessSchema,
  siteListSchema,
  siteSchema,
  siteSettingsSchema,
  siteShareSchema,
  statsQuerySchema,
  statsResponseSchema,
  VISITOR_COOKIE,
} from '@tally/shared';
import { z } from 'zod';

type JsonSchema = Record<string, unknown>;

/** Every schema the document names, under the name it has in `components.schemas`. */
export const DOCUMENTED_SCHEMAS = {
  Event: { schema: eventSchema, io: 'input' },
  EventBatch: { schema: batchSchema, io: 'input' },
  EventAccepted: { schema: eventAcceptedSchema, io: 'output' },
  BatchAccepted: { schema: batchAcceptedSchema, io: 'output' },
  StatsQuery: { schema: statsQuerySchema, io: 'input' },
  StatsResponse: { schema: statsResponseSchema, io: 'output' },
  ErrorResponse: { schema: errorResponseSchema, io: 'output' },
  QueueCounts: { schema: queueCountsSchema, io: 'output' },
  Liveness: { schema: livenessSchema, io: 'output' },
  Readiness: { schema: readinessSchema, io: 'output' },
  SiteSettings: { schema: siteSettingsSchema, io: 'input' },
  Site: { schema: siteSchema, io: 'output' },
  SiteList: { schema: siteListSchema, io: 'output' },
  SiteShare: { schema: siteShareSchema, io: 'output' },
  QueryRequest: { schema: queryRequestSchema, io: 'input' },
  QueryResponse: { schema: queryResponseSchema, io: 'output' },
} as const;

type SchemaName = keyof typeof DOCUMENTED_SCHEMAS;

function toJsonSchema(name: SchemaName): JsonSchema {
  const { schema, io } = DOCUMENTED_SCHEMAS[name];
  // Refinements (the 24 h clock-skew rule, date ranges) cannot be expressed in JSON Schema; they stay in the prose.
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'any',
  }) as JsonSchema;
  return rest;
}

const ref = (name: SchemaName) => ({ $ref: `#/components/schemas/${name}` });
const json = (name: SchemaName) => ({ 'application/json': { schema: ref(name) } });
const error = (description: string) => ({ description, content: json('ErrorResponse') });

/** The stats query's properties as query parameters. */
function queryParameters(name: SchemaName) {
  const schema = toJsonSchema(name) as { properties: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(schema.properties).map(([param, property]) => ({
    name: param,
    in: 'query',
    required: schema.required?.includes(param) ?? false,
    schema: property,
  }));
}

const ingestErrors = {
  400: error('Invalid event, batch envelope or JSON; every problem listed, each naming its field'),
  413: error(`Body over BODY_LIMIT (default ${LIMITS.bodyMaxBytes} bytes)`),
  415: error('Content-Type other than application/json or text/plain'),
  429: error(
    'Over RATE_LIMIT_IP_PER_MINUTE (requests per client IP) or RATE_LIMIT_SITE_PER_MINUTE (events per site); retry after `Retry-After` seconds',
  ),
  503: error(
    'The queue cannot take events right now; retry after `Retry-After` seconds with the `eventId`/`eventIds` this answer names (the events may still be queued)',
  ),
};

/** A stats key when `STATS_API_KEYS` is set; the empty alternative lets "Try it out" call an open server too. */
const statsSecurity = [{ statsKey: [] }, {}];

const visitorCookieHeader = {
  'Set-Cookie': {
    description: `\`${VISITOR_COOKIE}=<uuid>; Max-Age=31536000; Path=/; HttpOnly; SameSite=Lax\`, when the request carried no valid ${VISITOR_COOKIE} cookie`,
    schema: { type: 'string' },
  },
};

const readKeyError = error('STATS_API_KEYS is set and the request has no valid `Authorization: Bearer <key>`');
const adminErrors = {
  401: error('No valid `Authorization: Bearer <ADMIN_API_KEY>`'),
  403: error('ADMIN_API_KEY is not configured: site changes are disabled'),
};
const siteIdParameter = {
  name: 'siteId',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: '^[A-Za-z0-9_.:-]+$', maxLength: LIMITS.siteIdMaxLength },
};

export function buildOpenApiDocument(): JsonSchema {
  const schemas = Object.fromEntries(
    (Object.keys(DOCUMENTED_SCHEMAS) as SchemaName[]).map((name) => [name, toJsonSchema(name)]),
  );
  return {
    // No `jsonSchemaDialect`: OpenAPI 3.1's default dialect is already JSON Schema 2020-12, and
    // Swagger UI flags the field as an error.
    openapi: '3.1.0',
    info: {
      title: 'Tally',
      version: '1.0.0',
      description:
        'Ingests analytics events, queues them, folds them exactly once into daily aggregates, and serves the stats.',
    },
    tags: [
      { name: 'ingest', description: 'Events from the tracker or a backend' },
      { name: 'stats', description: 'Daily aggregates' },
      { name: 'sites', description: 'Sites and their settings (time zone, public, allowed host names)' },
      { name: 'operations', description: 'Health, readiness, queue and metrics' },
    ],
    paths: {
      '/api/event': {
        post: {
          tags: ['ingest'],
          summary: 'Ingest one event',
          description:
            'Body as `application/json`, or `text/plain` holding JSON (what `sendBeacon` sends). `eventId` is the idempotency key: resending it never counts twice. `timestamp` may be at most 24 hours in the future.',
          requestBody: { required: true, content: { ...json('Event'), 'text/plain': { schema: ref('Event') } } },
          responses: {
            202: { description: 'Queued', headers: visitorCookieHeader, content: json('EventAccepted') },
            ...ingestErrors,
          },
        },
      },
      '/api/events': {
        post: {
          tags: ['ingest'],
          summary: `Ingest a batch of 1–${LIMITS.batchMaxEvents} events`,
          description:
            'Valid events are queued even when others in the batch are not; `rejected` lists the others by index. 400 only when the envelope is invalid or no event is valid.',
          requestBody: {
            required: true,
            content: { ...json('EventBatch'), 'text/plain': { schema: ref('EventBatch') } },
          },
          responses: {
            202: { description: 'Queued', headers: visitorCookieHeader, content: json('BatchAccepted') },
            ...ingestErrors,
          },
        },
      },
      '/api/stats': {
        get: {
          tags: ['stats'],
          summary: 'Daily stats for a site',
          description: `Give \`date\` (a day in the site's time zone, UTC unless set), or \`from\` and \`to\` (inclusive, at most ${LIMITS.statsMaxRangeDays} days; adds \`daily\`).`,
          parameters: queryParameters('StatsQuery'),
          security: statsSecurity,
          responses: {
            200: { description: 'Stats', content: json('StatsResponse') },
            400: error('Missing or invalid parameters'),
            401: error('STATS_API_KEYS is set and the request has no valid `Authorization: Bearer <key>`'),
            404: error('No events for the site in that period'),
          },
        },
      },
      '/api/query': {
        post: {
          tags: ['stats'],
          summary: 'Any metric, broken down, filtered, ordered, paged and compared (the query API)',
          description:
            'Up to two dimensions (`time:*` buckets zero-filled in the site\'s time zone), filters AND-ed, `orderBy`/`limit`/`offset` with `meta.totalRows`, `compare` with per-row change in %. `visitors` over several days or per dimension value may be estimated from HyperLogLog sketches (within 1 %); `meta.approximate` names it then. `Accept: text/csv` or `"format": "csv"` answers the same rows as CSV. Answers are cached for `QUERY_CACHE_MS` until a fold changes the site (never `realtime`); `Cache-Control: no-cache` asks for a computed one. A `public` site needs no key; the dashboard\'s own calls use its session cookie (same-origin only) or the site\'s share secret.',
          security: [{ statsKey: [] }, { dashboardSession: [] }, { shareSecret: [] }, {}],
          requestBody: { required: true, content: json('QueryRequest') },
          responses: {
            200: {
              description: 'The rows and what they mean',
              headers: {
                'X-Tally-Cache': {
                  description: '`hit` when the answer came from the answer cache, else `miss`',
                  schema: { type: 'string', enum: ['hit', 'miss'] },
                },
              },
              content: { ...json('QueryResponse'), 'text/csv': { schema: { type: 'string' } } },
            },
            400: error('Invalid request; every problem listed, naming the bad metric, dimension, operator or range'),
            401: error(
              'STATS_API_KEYS is set, the site is not public and the request has no valid key, same-origin dashboard session or share secret',
            ),
          },
        },
      },
      '/api/sites': {
        get: {
          tags: ['sites'],
          summary: 'Every site, with its first and last day of events and its event count',
          responses: {
            200: { description: 'Sites, by siteId', content: json('SiteList') },
            401: readKeyError,
          },
        },
      },
      '/api/sites/{siteId}': {
        parameters: [siteIdParameter],
        get: {
          tags: ['sites'],
          summary: 'One site',
          responses: {
            200: { description: 'The site', content: json('Site') },
            401: readKeyError,
            404: error('No such site'),
          },
        },
        put: {
          tags: ['sites'],
          summary: 'Create a site or change its settings',
          description:
            'Fields left out keep their value (defaults for a new site: UTC, private, any host name). Changing `timeZone` re-folds the days that raw events still hold, in the background.',
          security: [{ adminKey: [] }],
          requestBody: { required: true, content: json('SiteSettings') },
          responses: {
            200: { description: 'Changed', content: json('Site') },
            201: { description: 'Created', content: json('Site') },
            400: error('Invalid siteId or settings; every problem listed'),
            ...adminErrors,
          },
        },
        delete: {
          tags: ['sites'],
          summary: 'Delete a site and all its data (raw events, visits, every daily table)',
          security: [{ adminKey: [] }],
          responses: { 204: { description: 'Deleted' }, 404: error('No such site'), ...adminErrors },
        },
      },
      '/api/sites/{siteId}/share': {
        parameters: [siteIdParameter],
        post: {
          tags: ['sites'],
          summary: "Make a new dashboard share secret (the site's old link stops working)",
          description:
            'The dashboard opens for whoever has `shareUrl` (`/dashboard/<siteId>?share=<secret>`), read-only, until the next rotation or a DELETE.',
          security: [{ adminKey: [] }],
          responses: {
            200: { description: 'The new secret and link', content: json('SiteShare') },
            404: error('No such site'),
            ...adminErrors,
          },
        },
        delete: {
          tags: ['sites'],
          summary: "Revoke the site's share link",
          security: [{ adminKey: [] }],
          responses: {
            200: { description: 'No secret any more', content: json('SiteShare') },
            404: error('No such site'),
            ...adminErrors,
          },
        },
      },
      '/api/queues/health': {
        get: {
          tags: ['operations'],
          summary: 'Job counts of the analytics-events queue',
          responses: {
            200: {
              description: 'Counts by state',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: { 'analytics-events': ref('QueueCounts') },
                    required: ['analytics-events'],
                  },
                },
              },
            },
          },
        },
      },
      '/healthz': {
        get: {
          tags: ['operations'],
          summary: 'Liveness: the process answers',
          responses: { 200: { description: 'Alive', content: json('Liveness') } },
        },
      },
      '/readyz': {
        get: {
          tags: ['operations'],
          summary: 'Readiness: PostgreSQL and the queue are reachable',
          responses: {
            200: { description: 'Ready', content: json('Readiness') },
            503: { description: 'Not ready; `checks` names what is unreachable', content: json('Readiness') },
          },
        },
      },
      '/metrics': {
        get: {
          tags: ['operations'],
          summary: 'Prometheus metrics',
          responses: {
            200: {
              description: 'Prometheus text exposition format',
              content: { 'text/plain': { schema: { type: 'string' } } },
            },
          },
        },
      },
      '/tally.js': {
        get: {
          tags: ['ingest'],
          summary: 'The tracker script for a `<script>` tag',
          responses: {
            200: {
              description: 'JavaScript, with `ETag` and `Cache-Control`',
              content: { 'text/javascript': { schema: { type: 'string' } } },
            },
            304: { description: 'Not modified (`If-None-Match` matched the `ETag`)' },
          },
        },
      },
      '/api/openapi.json': {
        get: {
          tags: ['operations'],
          summary: 'This document',
          responses: {
            200: { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } },
          },
        },
      },
    },
    components: {
      schemas,
      securitySchemes: {
        statsKey: {
          type: 'http',
          scheme: 'bearer',
          description:
            'One of `STATS_API_KEYS`, as `Authorization: Bearer <key>`; not needed when the variable is unset',
        },
        adminKey: { type: 'http', scheme: 'bearer', description: '`ADMIN_API_KEY`, as `Authorization: Bearer <key>`' },
        dashboardSession: {
          type: 'apiKey',
          in: 'cookie',
          name: 'tally_dashboard',
          description:
            "Set by the dashboard's key login (`POST /dashboard/{siteId}/login`); accepted on same-origin requests only (`Sec-Fetch-Site: same-origin`, or an `Origin` equal to the server's)",
        },
        shareSecret: {
          type: 'apiKey',
          in: 'header',
          name: 'X-Tally-Share',
          description: "The site's share secret (`POST /api/sites/{siteId}/share`); opens that site only",
        },
      },
    },
  };
}
