/**
 * `@tally/sdk/query`: a typed client of Tally's query API (`POST /api/query`)
 * and daily stats (`GET /api/stats`) for backend jobs and browsers. Request and
 * answer types come from `@tally/shared` as types only, so zod never ships in
 * this bundle; the server validates, and its messages come back on the error.
 */
import type { ErrorResponse, QueryRequest, QueryResponse, StatsResponse } from '@tally/shared';

export type {
  DateRange,
  Dimension,
  Filter,
  FilterOperator,
  Metric,
  QueryMeta,
  QueryRequest,
  QueryResponse,
  QueryResultRow,
  StatsResponse,
} from '@tally/shared';

export interface ClientOptions {
  /** Where the Tally server answers, e.g. `https://stats.example.com` (its `/api/…` routes are used). */
  baseUrl: string;
  /** A stats key (`STATS_API_KEYS`), sent as `Authorization: Bearer <key>`; leave out for a public site. */
  apiKey?: string;
  /** A `fetch` to use instead of the global one (tests, proxies, older runtimes). */
  fetch?: typeof fetch;
}

/** `GET /api/stats` parameters: one site-local `date`, or `from` + `to`. */
export interface StatsParams {
  siteId: string;
  date?: string;
  from?: string;
  to?: string;
  limit?: number;
  eventType?: string;
}

/** A non-2xx answer: its status and the server's messages, each naming its field. */
export class TallyQueryError extends Error {
  readonly status: number;
  readonly messages: string[];
  constructor(status: number, messages: string[]) {
    super(`Tally answered ${status}: ${messages.join('; ')}`);
    this.name = 'TallyQueryError';
    this.status = status;
    this.messages = messages;
  }
}

export interface QueryClient {
  /**
   * Runs a query and returns its rows and meta.
   * @example
   * const { results } = await tally.query({ siteId: 'my_site', metrics: ['visitors'], dateRange: '30d', dimensions: ['source'], limit: 10 });
   */
  query(request: QueryRequest): Promise<QueryResponse>;
  /**
   * Runs a query and returns its answer as CSV text (header line first).
   * @example
   * const csv = await tally.queryCsv({ siteId: 'my_site', metrics: ['pageviews'], dateRange: 'month', dimensions: ['path'] });
   */
  queryCsv(request: QueryRequest): Promise<string>;
  /**
   * Daily stats of part one (`GET /api/stats`).
   * @example
   * const { totalViews, topPaths } = await tally.stats({ siteId: 'my_site', date: '2024-03-08' });
   */
  stats(params: StatsParams): Promise<StatsResponse>;
}

async function failure(response: Response): Promise<TallyQueryError> {
  const text = await response.text().catch(() => '');
  let messages: string[] = [text || response.statusText || 'request failed'];
  try {
    const body = JSON.parse(text) as Partial<ErrorResponse>;
    if (body.message !== undefined) messages = [body.message].flat();
  } catch {
    // Not the JSON error shape (a proxy's page, say): its text is the message.
  }
  return new TallyQueryError(response.status, messages);
}

/**
 * Makes a client for one Tally server.
 * @example
 * import { createClient } from '@tally/sdk/query';
 * const tally = createClient({ baseUrl: 'https://stats.example.com', apiKey: process.env.TALLY_KEY });
 * const { results } = await tally.query({ siteId: 'my_site', metrics: ['visitors'], dateRange: '7d' });
 */
export function createClient(options: ClientOptions): QueryClient {
  const base = options.baseUrl.replace(/\/+$/, '');
  const send = (path: string, init: RequestInit, accept: string) => {
    const headers: Record<string, string> = { Accept: accept };
    if (init.body !== undefined) headers['Content-Type'] = 'application/json';
    if (options.apiKey) headers.Authorization = `Bearer ${options.apiKey}`;
    const fetchImpl = options.fetch ?? globalThis.fetch;
    return fetchImpl(`${base}${path}`, { ...init, headers });
  };

  return {
    async query(request) {
      const response = await send('/api/query', { method: 'POST', body: JSON.stringify(request) }, 'application/json');
      if (!response.ok) throw await failure(response);
      return (await response.json()) as QueryResponse;
    },
    async queryCsv(request) {
      const body = JSON.stringify({ ...request, format: 'csv' });
      const response = await send('/api/query', { method: 'POST', body }, 'text/csv');
      if (!response.ok) throw await failure(response);
      return response.text();
    },
    async stats(params) {
      const search = new URLSearchParams();
      for (const [key, value] of Object.entries(params)) if (value !== undefined) search.set(key, String(value));
      const response = await send(`/api/stats?${search}`, { method: 'GET' }, 'application/json');
      if (!response.ok) throw await failure(response);
      return (await response.json()) as StatsResponse;
    },
  };
}
