#!/usr/bin/env node
/**
 * Reads a site's daily stats from a Tally server, as a backend job would, with the typed client
 * `@tally/sdk/query` (build it first: `npm run build -w @tally/sdk`).
 *
 *   node examples/stats-query/index.mjs [siteId] [YYYY-MM-DD]
 *
 * siteId defaults to example_site, the date to today (UTC). Prints the day's totals and top paths
 * (GET /api/stats), then its top sources (POST /api/query). Environment:
 *   TALLY_URL       the server's base URL (default http://localhost:$PORT)
 *   PORT            the port of a local server when TALLY_URL is unset (default 3000)
 *   TALLY_API_KEY   a key from the server's STATS_API_KEYS, sent as `Authorization: Bearer …`
 *
 * Prints one line per problem and exits 1: no server, an error answer, or a body that is not Tally's.
 */
import { createClient, TallyQueryError } from '@tally/sdk/query';

const base = process.env.TALLY_URL || process.env.TALLY_API || `http://localhost:${process.env.PORT || 3000}`;
const siteId = process.argv[2] ?? 'example_site';
const date = process.argv[3] ?? new Date().toISOString().slice(0, 10);
const apiKey = process.env.TALLY_API_KEY;

function fail(message) {
  console.error(message);
  process.exit(1);
}

let origin;
try {
  origin = new URL(base).origin;
} catch {
  fail(`TALLY_URL is not a URL: ${base}`);
}

/** Runs one call, turning every failure into the one line that explains it. */
async function attempt(call) {
  try {
    return await call();
  } catch (error) {
    if (error instanceof TallyQueryError) {
      const hint = error.status === 401 ? ' (set TALLY_API_KEY to one of the server’s STATS_API_KEYS)' : '';
      fail(`${error.status}: ${error.messages.join('; ')}${hint}`);
    }
    if (error instanceof SyntaxError) fail(`${origin} answered without JSON: is it a Tally server?`);
    const reason = error.cause?.code ?? error.cause?.message ?? error.message;
    fail(`No Tally server answers at ${origin} (${reason}). Start one with \`npm start\`, or set TALLY_URL.`);
  }
}

const tally = createClient({ baseUrl: base, ...(apiKey ? { apiKey } : {}) });

const stats = await attempt(() => tally.stats({ siteId, date }));
console.log(`${stats.siteId} on ${stats.date}: ${stats.totalViews} events, ${stats.uniqueUsers} unique visitors`);
console.table(stats.topPaths);

const sources = await attempt(() =>
  tally.query({
    siteId,
    metrics: ['visitors', 'pageviews'],
    dateRange: [date, date],
    dimensions: ['source'],
    limit: 5,
  }),
);
console.log('Top sources:');
console.table(
  sources.results.map(({ dimensions, metrics }) => ({
    source: dimensions[0],
    visitors: metrics[0],
    pageviews: metrics[1],
  })),
);
