#!/usr/bin/env node
/**
 * Reads a site's daily stats from a Tally server, as a backend job would.
 *
 *   node examples/stats-query/index.mjs [siteId] [YYYY-MM-DD]
 *
 * siteId defaults to example_site, the date to today (UTC). Environment:
 *   TALLY_URL       the server's base URL (default http://localhost:$PORT)
 *   PORT            the port of a local server when TALLY_URL is unset (default 3000)
 *   TALLY_API_KEY   a key from the server's STATS_API_KEYS, sent as `Authorization: Bearer …`
 *
 * Prints one line per problem and exits 1: no server, an error answer, or a body that is not Tally's.
 */
const base = process.env.TALLY_URL || process.env.TALLY_API || `http://localhost:${process.env.PORT || 3000}`;
const siteId = process.argv[2] ?? 'example_site';
const date = process.argv[3] ?? new Date().toISOString().slice(0, 10);
const apiKey = process.env.TALLY_API_KEY;

function fail(message) {
  console.error(message);
  process.exit(1);
}

let url;
try {
  url = new URL('/api/stats', base);
} catch {
  fail(`TALLY_URL is not a URL: ${base}`);
}
url.searchParams.set('siteId', siteId);
url.searchParams.set('date', date);

let response;
try {
  response = await fetch(url, { headers: apiKey ? { Authorization: `Bearer ${apiKey}` } : {} });
} catch (error) {
  const reason = error.cause?.code ?? error.cause?.message ?? error.message;
  fail(`No Tally server answers at ${url.origin} (${reason}). Start one with \`npm start\`, or set TALLY_URL.`);
}

let body;
try {
  body = await response.json();
} catch {
  fail(`${url.origin} answered ${response.status} without JSON: is it a Tally server?`);
}
if (!response.ok) {
  const hint = response.status === 401 ? ' (set TALLY_API_KEY to one of the server’s STATS_API_KEYS)' : '';
  fail(`${response.status}: ${[body.message].flat().join('; ')}${hint}`);
}
console.log(`${body.siteId} on ${body.date}: ${body.totalViews} events, ${body.uniqueUsers} unique visitors`);
console.table(body.topPaths);
