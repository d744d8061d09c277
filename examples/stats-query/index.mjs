#!/usr/bin/env node
/**
 * Reads a site's daily stats from a Tally server, as a backend job would.
 *
 *   TALLY_API=http://localhost:3000 node examples/stats-query/index.mjs example_site [YYYY-MM-DD]
 *
 * The date defaults to today (UTC). Exits 1 on an error answer, printing it.
 */
const api = process.env.TALLY_API ?? 'http://localhost:3000';
const siteId = process.argv[2] ?? 'example_site';
const date = process.argv[3] ?? new Date().toISOString().slice(0, 10);

const url = new URL('/api/stats', api);
url.searchParams.set('siteId', siteId);
url.searchParams.set('date', date);

const response = await fetch(url);
const body = await response.json();
if (!response.ok) {
  console.error(`${response.status}: ${[body.message].flat().join('; ')}`);
  process.exit(1);
}
console.log(`${body.siteId} on ${body.date}: ${body.totalViews} events, ${body.uniqueUsers} unique visitors`);
console.table(body.topPaths);
