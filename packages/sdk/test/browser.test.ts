/**
 * The tracker in a real browser against the real server: Chromium (Debian's,
 * driven by playwright-core; nothing is downloaded) opens the script-tag
 * example served from one origin, `tally.js` and the API come from another
 * (same site, other port), and the stats API must show exactly what happened.
 * PostgreSQL and Redis are the real ones, with a database and a queue prefix
 * of this file's own.
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
import { silentLogger, startTestStack, type TestStack } from '../../server/test/support.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
];

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
  stack = await startTestStack();
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
  // with the script tag pointed at this API, its site id from `?site=`, and the browser-test opt-ins.
  const page = await readFile(new URL('../../../examples/script-tag/index.html', import.meta.url), 'utf8');
  if (!page.includes('src="/tally.js"')) throw new Error('the script-tag example no longer loads src="/tally.js"');
  site = createServer((request, response) => {
    const siteId = new URL(request.url ?? '/', 'http://x').searchParams.get('site') ?? 'example_site';
    const html = page
      .replace('src="/tally.js"', `src="${apiOrigin}/tally.js"`)
      .replace('data-site-id="example_site"', `data-site-id="${siteId}" data-exclude-webdriver="false"`);
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(html);
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  siteOrigin = `http://127.0.0.1:${listening(site)}`;

  profile = await mkdtemp(join(tmpdir(), 'tally-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
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

/** `tally('flush')` in the page: sends what waits now. */
async function flushIn(page: Page) {
  await page.evaluate(() => (window as unknown as { tally: (name: string) => Promise<void> }).tally('flush'));
}

describe('script tag in Chromium', () => {
  test('tally.js from the API origin counts page views, SPA navigation and a custom event exactly', async () => {
    const page = await browser.newPage();
    const served = page.waitForResponse(`${apiOrigin}/tally.js`);
    await page.goto(`${siteOrigin}/?site=browser_site`);
    expect((await served).status()).toBe(200);
    await trackerLoaded(page);

    await clickNav(page, 'Pricing');
    await clickNav(page, 'Pricing'); // same URL again: no second view
    await clickNav(page, 'Docs');
    await page.getByRole('button', { name: 'Sign up' }).click();
    expect(page.url()).toBe(`${siteOrigin}/docs`);
    await page.close({ runBeforeUnload: true }); // pagehide: the beacon carries what waits

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
    await clickNav(page, 'Pricing');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await flushIn(page);
    await new Promise((resolve) => setTimeout(resolve, 500));
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
    await clickNav(page, 'Docs');
    await flushIn(page);
    await page.close({ runBeforeUnload: true });
    await new Promise<void>((resolve) => apiServer.listen(Number(new URL(apiOrigin).port), '127.0.0.1', resolve));
    await stack.drain();
    expect(await storedEvents(siteId)).toBe(3);
    const next = await browser.newPage();
    const sentBodies: string[] = [];
    next.on('request', (request) => {
      if (request.url() === `${apiOrigin}/api/events`) sentBodies.push(request.postData() ?? '');
    });
    await next.goto(`${siteOrigin}/?site=${siteId}`);
    await trackerLoaded(next);
    await flushIn(next);
    await settle(siteId, 5);
    expect(sentBodies.some((body) => body.includes('"path":"/docs"'))).toBe(true);
    await next.close({ runBeforeUnload: true });
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
      await page.close({ runBeforeUnload: true });

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
