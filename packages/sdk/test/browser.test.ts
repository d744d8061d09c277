/**
 * The tracker in a real browser against the real server: Chromium (Debian's,
 * driven by playwright-core; nothing is downloaded) opens the script-tag
 * example served from one origin, `tally.js` and the API come from another
 * (same site, other port), and the stats API must show exactly what happened.
 * PostgreSQL and Redis are the real ones, with a database and a queue prefix
 * of this file's own.
 *
 * It follows the recipe in docs/sdk.md ("End-to-end tests of a site that
 * embeds Tally"), so the recipe is tested: the server's bot filter is on as in
 * production, so Chromium gets a normal desktop User-Agent; the tag opts in to
 * automated browsers and to local pages; and `data-debug` puts the tracker's
 * reasons in the console, which the tests read.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import type { StatsResponse } from '@tally/shared';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createApp } from '../../server/src/app.js';
import { CHROMIUM, CHROMIUM_ARGS, DESKTOP_UA } from '../../server/test/chromium.js';
import { silentLogger, startTestStack, type TestStack } from '../../server/test/support.js';

/** Debian's Chromium with a desktop Chrome's User-Agent: headless Chromium's own says `HeadlessChrome`, which the bot filter drops. */
const BROWSER_ARGS = [...CHROMIUM_ARGS, `--user-agent=${DESKTOP_UA}`];
/** The tag attributes of the recipe: count this automated browser, on a local page, and say why not when not. */
const RECIPE = 'data-exclude-webdriver="false" data-exclude-localhost="false" data-debug';

let stack: TestStack;
let api: ReturnType<typeof serve>;
let apiOrigin: string;
let site: Server;
let siteOrigin: string;
let profile: string;
let browser: BrowserContext;

const listening = (server: { address(): AddressInfo | string | null }) => (server.address() as AddressInfo).port;

beforeAll(async () => {
  const trackerScript = await readFile(new URL('../dist/tally.js', import.meta.url), 'utf8');
  stack = await startTestStack({ env: { BOT_FILTER: 'true' } }); // as in production
  const app = createApp({
    statsDb: stack.database.db,
    pingDatabase: stack.database.ping,
    queue: stack.queue,
    config: stack.config,
    logger: silentLogger,
    trackerScript,
  });
  api = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(server));
  });
  apiOrigin = `http://127.0.0.1:${listening(api as unknown as Server)}`;

  // The example site on another port: every path answers the page (a client-side router's fallback),
  // with the script tag pointed at this API, its site id from `?site=`, and the recipe's attributes
  // (all but `?skip=`'s one, which leaves that attribute out).
  const page = await readFile(new URL('../../../examples/script-tag/index.html', import.meta.url), 'utf8');
  if (!page.includes('src="/tally.js"')) throw new Error('the script-tag example no longer loads src="/tally.js"');
  site = createServer((request, response) => {
    const query = new URL(request.url ?? '/', 'http://x').searchParams;
    const siteId = query.get('site') ?? 'example_site';
    const attributes = RECIPE.split(' ')
      .filter((attribute) => !attribute.startsWith(`data-${query.get('skip')}`))
      .join(' ');
    const html = page
      .replace('src="/tally.js"', `src="${apiOrigin}/tally.js"`)
      .replace(
        /data-site-id="example_site"\s+data-exclude-localhost="false"/,
        `data-site-id="${siteId}" ${attributes}`,
      );
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(html);
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  siteOrigin = `http://127.0.0.1:${listening(site)}`;

  profile = await mkdtemp(join(tmpdir(), 'tally-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: BROWSER_ARGS,
    headless: true,
  });
});

afterAll(async () => {
  await browser?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
  for (const server of [site, api as unknown as Server | undefined]) {
    await new Promise((resolve) => {
      if (!server) return resolve(undefined);
      server.close(resolve);
      server.closeAllConnections();
    });
  }
  await stack?.close();
});

const today = () => new Date().toISOString().slice(0, 10);

async function stats(siteId: string, extra = ''): Promise<StatsResponse> {
  const response = await fetch(`${apiOrigin}/api/stats?siteId=${siteId}&date=${today()}${extra}`);
  expect(response.status).toBe(200);
  return (await response.json()) as StatsResponse;
}

/** Waits until `count` events of `siteId` are stored, lets stragglers land, and drains the queue. */
async function settle(siteId: string, count: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    await stack.drain();
    if ((await storedEvents(siteId)) >= count || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await new Promise((resolve) => setTimeout(resolve, 1000)); // a duplicate would arrive by now
  await stack.drain();
}

async function storedEvents(siteId: string): Promise<number> {
  const [row] = await stack.query<{ n: number }>('SELECT count(*)::int AS n FROM raw_events WHERE site_id = $1', [
    siteId,
  ]);
  return row?.n ?? 0;
}

async function clickNav(page: Page, name: string) {
  await page.getByRole('link', { name }).click();
}

/** Resolves once tally.js has run and replaced the pre-load stub. */
async function trackerLoaded(page: Page) {
  await page.waitForFunction(() => {
    const tally = (window as { tally?: { q?: unknown } }).tally;
    return typeof tally === 'function' && !('q' in tally);
  });
}

/** The tracker's `[tally]` console lines of `page`, as they come. */
function tallyConsole(page: Page): string[] {
  const lines: string[] = [];
  page.on('console', (message) => {
    if (message.text().startsWith('[tally]')) lines.push(message.text());
  });
  return lines;
}

/** Closes `page` as a tab closes (`pagehide`, so the tracker beacons) and waits until it is gone. */
async function closePage(page: Page) {
  await Promise.all([page.waitForEvent('close'), page.close({ runBeforeUnload: true })]);
}

/** Unsent events the tracker of `page` keeps in localStorage for `siteId`. */
async function storedInPage(page: Page, siteId: string): Promise<number> {
  return page.evaluate((key) => JSON.parse(localStorage.getItem(key) ?? '[]').length, `tally_q:${siteId}`);
}

/** `tally('flush')` in the page: sends what waits now. */
async function flushIn(page: Page) {
  await page.evaluate(() => (window as unknown as { tally: (name: string) => Promise<void> }).tally('flush'));
}

describe('script tag in Chromium', () => {
  test('tally.js from the API origin counts page views, SPA navigation and a custom event exactly', async () => {
    const page = await browser.newPage();
    const logs = tallyConsole(page);
    const served = page.waitForResponse(`${apiOrigin}/tally.js`);
    await page.goto(`${siteOrigin}/?site=browser_site`);
    expect((await served).status()).toBe(200);
    await trackerLoaded(page);

    await clickNav(page, 'Pricing');
    await clickNav(page, 'Pricing'); // same URL again: no second view
    await clickNav(page, 'Docs');
    await page.getByRole('button', { name: 'Sign up' }).click();
    expect(page.url()).toBe(`${siteOrigin}/docs`);
    await closePage(page); // pagehide: the beacon carries what waits
    expect(logs).toEqual([]); // debug is on, and nothing was held back

    await settle('browser_site', 4);
    const views = await stats('browser_site', '&eventType=page_view');
    expect(views.totalViews).toBe(3);
    expect(views.uniqueUsers).toBe(1);
    expect(views.topPaths).toEqual([
      { path: '/', views: 1 },
      { path: '/docs', views: 1 },
      { path: '/pricing', views: 1 },
    ]);
    const signups = await stats('browser_site', '&eventType=signup');
    expect(signups.totalViews).toBe(1);
    expect(signups.topPaths).toEqual([{ path: '/docs', views: 1 }]);
    const all = await stats('browser_site');
    expect(all.totalViews).toBe(4);
    expect(all.uniqueUsers).toBe(1);

    const rows = await stack.query<{ event_type: string; referrer: string | null; props: unknown }>(
      'SELECT event_type, referrer, props FROM raw_events WHERE site_id = $1 ORDER BY event_ts',
      ['browser_site'],
    );
    expect(rows.map((r) => [r.event_type, r.referrer])).toEqual([
      ['page_view', null],
      ['page_view', `${siteOrigin}/`],
      ['page_view', `${siteOrigin}/pricing`],
      ['signup', null],
    ]);
    expect(rows[3]?.props).toEqual({ plan: 'pro' });
  });

  test('events made while the API is unreachable arrive exactly once after it comes back', async () => {
    const siteId = 'offline_site';
    const page = await browser.newPage();
    await page.goto(`${siteOrigin}/?site=${siteId}`);
    await trackerLoaded(page);
    await flushIn(page);
    await settle(siteId, 1); // the first view went out while online

    // 1. The browser goes offline: nothing is sent, nothing is lost; back online, it all goes.
    await browser.setOffline(true);
    await page.waitForFunction(() => !navigator.onLine);
    await clickNav(page, 'Pricing');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await flushIn(page); // offline: resolves at once and keeps both
    expect(await storedInPage(page, siteId)).toBe(2);
    await stack.drain();
    expect(await storedEvents(siteId)).toBe(1);
    await browser.setOffline(false);
    await settle(siteId, 3);
    expect(await storedEvents(siteId)).toBe(3);

    // 2. Online but the API down: sends fail and wait to retry; the page closes (its beacon fails too);
    // the next page load, with the API back, sends the stored copy.
    const apiServer = api as unknown as Server;
    await new Promise((resolve) => {
      apiServer.close(resolve);
      apiServer.closeAllConnections();
    });
    const logs = tallyConsole(page);
    await clickNav(page, 'Docs');
    await flushIn(page); // resolves once the send has failed
    await expect.poll(() => logs).toEqual(['[tally] send failed, retry in 1000 ms']);
    expect(await storedInPage(page, siteId)).toBe(1);
    // Closed before the API comes back (the beacon of its pagehide must not find it up again).
    await closePage(page);
    await stack.drain();
    expect(await storedEvents(siteId)).toBe(3);
    await new Promise<void>((resolve) => apiServer.listen(Number(new URL(apiOrigin).port), '127.0.0.1', resolve));
    const next = await browser.newPage();
    const sentBodies: string[] = [];
    next.on('request', (request) => {
      if (request.url() === `${apiOrigin}/api/events`) sentBodies.push(request.postData() ?? '');
    });
    // This landing page carries campaign parameters: only the utm_* ones leave the page.
    await next.goto(`${siteOrigin}/?site=${siteId}&utm_source=newsletter&utm_medium=email&ref=secret`);
    await trackerLoaded(next);
    await flushIn(next);
    await settle(siteId, 5);
    const sent = sentBodies.flatMap((body) => JSON.parse(body).events as Record<string, unknown>[]);
    expect(sent.map((event) => event.path)).toEqual(['/docs', '/']); // the stored copy, then this load's view
    expect(sent[1]).toMatchObject({ utmSource: 'newsletter', utmMedium: 'email', screenWidth: expect.any(Number) });
    expect(sent[1]?.language).toMatch(/^[a-z]{2}/i);
    expect(sentBodies.join()).not.toMatch(/secret|site=/);
    await closePage(next);
    await settle(siteId, 5);

    const views = await stats(siteId, '&eventType=page_view');
    expect(views.topPaths).toEqual([
      { path: '/', views: 2 },
      { path: '/docs', views: 1 },
      { path: '/pricing', views: 1 },
    ]);
    expect(views.totalViews).toBe(4);
    expect(views.uniqueUsers).toBe(1);
    expect((await stats(siteId, '&eventType=signup')).totalViews).toBe(1);
    expect(await storedEvents(siteId)).toBe(5);
  });
});

describe('the end-to-end recipe (docs/sdk.md), one step left out at a time', () => {
  test.each([
    ['exclude-webdriver', 'webdriver'],
    ['exclude-localhost', 'localhost'],
  ])('without data-%s the console says why nothing is sent', async (skip, reason) => {
    const siteId = `recipe_${reason}`;
    const page = await browser.newPage();
    const logs = tallyConsole(page);
    await page.goto(`${siteOrigin}/?site=${siteId}&skip=${skip}`);
    await trackerLoaded(page);
    await page.getByRole('button', { name: 'Sign up' }).click();
    await flushIn(page);
    await expect
      .poll(() => logs)
      .toEqual([`[tally] page_view not sent: ${reason}`, `[tally] signup not sent: ${reason}`]);
    await closePage(page);
    expect(await storedEvents(siteId)).toBe(0);
  });

  test("with headless Chromium's own User-Agent the server drops the events as a bot's", async () => {
    const siteId = 'recipe_headless';
    const page = await browser.newPage();
    const headless = DESKTOP_UA.replace('Chrome/', 'HeadlessChrome/');
    await page.setExtraHTTPHeaders({ 'User-Agent': headless });
    const answers: number[] = [];
    page.on('response', (response) => {
      if (response.url() === `${apiOrigin}/api/events`) answers.push(response.status());
    });
    await page.goto(`${siteOrigin}/?site=${siteId}`);
    await trackerLoaded(page);
    await flushIn(page);
    await expect.poll(() => answers).toEqual([202]); // answered like anyone's, so the tracker has nothing to log ...
    await page.close();
    await stack.drain();
    expect(await storedEvents(siteId)).toBe(0); // ... but never stored
  });
});

describe('npm package in the SPA example (vite build) in Chromium', () => {
  test('page views on load, pushState and Back, a custom event, one visitor', async () => {
    const siteId = 'spa_site';
    const outDir = await mkdtemp(join(tmpdir(), 'tally-spa-'));
    Object.assign(process.env, {
      VITE_TALLY_API: apiOrigin,
      VITE_TALLY_SITE_ID: siteId,
      VITE_TALLY_ALLOW_AUTOMATION: 'true',
    });
    await build({
      root: new URL('../../../examples/spa', import.meta.url).pathname,
      logLevel: 'silent',
      build: { outDir, emptyOutDir: true },
    });
    const spa = createServer(async (request, response) => {
      const path = new URL(request.url ?? '/', 'http://x').pathname;
      const asset = path.startsWith('/assets/') ? path : '/index.html'; // the SPA fallback
      try {
        const body = await readFile(join(outDir, asset));
        const type = asset.endsWith('.js') ? 'text/javascript' : 'text/html; charset=utf-8';
        response.writeHead(200, { 'Content-Type': type }).end(body);
      } catch {
        response.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => spa.listen(0, '127.0.0.1', resolve));
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${listening(spa)}/`);
      await page.getByRole('heading', { name: 'Home' }).waitFor();
      await clickNav(page, 'Products');
      await page.getByRole('button', { name: 'Add to cart' }).click();
      await clickNav(page, 'About');
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.goBack(); // popstate back to /products: a view of its own
      await page.getByRole('heading', { name: 'Products' }).waitFor();
      await closePage(page);

      await settle(siteId, 5);
      const views = await stats(siteId, '&eventType=page_view');
      expect(views.totalViews).toBe(4);
      expect(views.uniqueUsers).toBe(1);
      expect(views.topPaths).toEqual([
        { path: '/products', views: 2 },
        { path: '/', views: 1 },
        { path: '/about', views: 1 },
      ]);
      const carts = await stats(siteId, '&eventType=add_to_cart');
      expect(carts.totalViews).toBe(1);
      const rows = await stack.query<{ event_type: string; path: string; user_id: string | null }>(
        'SELECT event_type, path, user_id FROM raw_events WHERE site_id = $1 ORDER BY event_ts',
        [siteId],
      );
      expect(rows.map((r) => [r.event_type, r.path, r.user_id])).toEqual([
        ['page_view', '/', null],
        ['page_view', '/products', null],
        ['add_to_cart', '/products', null],
        ['page_view', '/about', null],
        ['page_view', '/products', 'user_42'],
      ]);
    } finally {
      await new Promise((resolve) => {
        spa.close(resolve);
        spa.closeAllConnections();
      });
      await rm(outDir, { recursive: true, force: true });
    }
  });
});
