#!/usr/bin/env node
/**
 * A host app with Tally inside it (SPEC §14): the page, the tracker and the
 * collect endpoint all come from this one origin, under a path of the app's
 * choosing (`/_t`), so nothing the page loads is third-party.
 *
 *   node server.mjs        # http://localhost:3000
 *
 * Environment: PORT (3000); DATABASE_URL and REDIS_URL for PostgreSQL and Redis,
 * or neither for the embedded default (PGlite under ./.tally); any other
 * Tally setting by its usual name (STATS_API_KEYS, …).
 */
import { serve } from '@hono/node-server';
import { createTally } from '@tally/server';
import { Hono } from 'hono';

const SITE_ID = process.env.SITE_ID ?? 'hono_example';

// Tally's settings by their environment names; nothing else of process.env is read.
const settings = Object.fromEntries(
  Object.entries(process.env).filter(([name]) =>
    /^(DATABASE_URL|REDIS_URL|QUEUE_PREFIX|STATS_API_KEYS|TALLY_DATA_DIR|LOG_LEVEL|BOT_FILTER)$/.test(name),
  ),
);
const tally = await createTally({ settings });
tally.startWorker();

const app = new Hono();
app.route('/_t', tally.app);
app.get('/', (c) =>
  c.html(`<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>A host app</title>
    <script defer src="/_t/s.js" data-site-id="${SITE_ID}"></script>
  </head>
  <body>
    <h1>Home</h1>
    <p><button id="signup">Sign up</button></p>
    <script>
      document.getElementById('signup').addEventListener('click', () => window.tally?.('signup', { plan: 'pro' }));
    </script>
  </body>
</html>`),
);

const server = serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000) }, (info) =>
  console.log(`host app on http://localhost:${info.port} — stats at /_t/api/stats?siteId=${SITE_ID}&date=<today>`),
);

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(async () => {
      await tally.close();
      process.exit(0);
    });
  });
}
