/**
 * The HTML of `GET /`, the dashboard and its login form, as escaped
 * templates (`hono/html`). The dashboard's page is its skeleton: controls,
 * metric cards and panels with their tabs; `assets/dashboard.js` fills in the
 * figures from `POST /api/query`.
 */
import { html } from 'hono/html';

export interface PageAssets {
  /** URL of the stylesheet, hash included. */
  style: string;
  /** URL of the script, hash included. */
  script: string;
}

const layout = (title: string, assets: PageAssets, body: unknown, script = false) => html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${assets.style}">
${script ? html`<script defer src="${assets.script}"></script>` : ''}
</head>
<body>
${body}
</body>
</html>`;

export interface HomeOptions {
  version: string;
  base: string;
  /** Sites to pick from; `undefined` when the visitor may not list them. */
  sites: string[] | undefined;
  docs: boolean;
}

export function homePage(assets: PageAssets, { version, base, sites, docs }: HomeOptions) {
  return layout(
    'Tally',
    assets,
    html`<header class="top"><h1>Tally <span class="brand">${version}</span></h1></header>
<main class="page">
<section class="card">
<h2>What runs here</h2>
<p>Tally ${version}: privacy-friendly web analytics. This server collects events from the tracker
(<code>${base}/tally.js</code>, <code>POST ${base}/api/events</code>), folds them into PostgreSQL and answers
questions about them (<code>POST ${base}/api/query</code>).</p>
</section>
<section class="card">
<h2>Dashboard</h2>
${
  sites && sites.length > 0
    ? html`<ul>${sites.map((site) => html`<li><a href="${base}/dashboard/${encodeURIComponent(site)}">${site}</a></li>`)}</ul>`
    : ''
}
<form method="get" action="${base}/dashboard">
<label for="site">Site id</label>
<input id="site" name="site" type="text" required maxlength="128" autocomplete="off">
<button class="btn primary" type="submit">Open dashboard</button>
</form>
</section>
<section class="card">
<h2>Links</h2>
<ul>
${docs ? html`<li><a href="${base}/api">API docs</a> (OpenAPI at <a href="${base}/api/openapi.json">/api/openapi.json</a>)</li>` : ''}
<li><a href="${base}/healthz">Liveness</a> (<code>/healthz</code>) and <a href="${base}/readyz">readiness</a> (<code>/readyz</code>)</li>
</ul>
</section>
</main>`,
  );
}

export interface LoginOptions {
  siteId: string;
  action: string;
  /** A key was given and refused. */
  failed: boolean;
  /** The page was opened with a share secret that no longer opens it. */
  expiredShare: boolean;
}

export function loginPage(assets: PageAssets, { siteId, action, failed, expiredShare }: LoginOptions) {
  return layout(
    `${siteId} · Tally`,
    assets,
    html`<header class="top"><h1>Tally / ${siteId}</h1></header>
<main class="page">
<section class="card">
<h2>This dashboard is private</h2>
<p>Enter a stats key (one of the server's <code>STATS_API_KEYS</code>) to open it, or ask its owner for a share link.</p>
${failed ? html`<p class="error" role="alert">That key is not valid.</p>` : ''}
${expiredShare ? html`<p class="error" role="alert">This share link is not valid (any more): ask for a new one.</p>` : ''}
<form method="post" action="${action}">
<label class="visually-hidden" for="key">Stats key</label>
<input id="key" name="key" type="password" required autocomplete="current-password" placeholder="Stats key" autofocus>
<button class="btn primary" type="submit">Open</button>
</form>
</section>
</main>`,
  );
}

const RANGES = [
  ['today', 'Today'],
  ['yesterday', 'Yesterday'],
  ['7d', 'Last 7 days'],
  ['30d', 'Last 30 days'],
  ['month', 'This month'],
  ['lastMonth', 'Last month'],
  ['12mo', 'Last 12 months'],
  ['year', 'This year'],
  ['all', 'All time'],
  ['custom', 'Custom range…'],
] as const;

const HEADLINE = [
  ['visitors', 'Visitors'],
  ['visits', 'Visits'],
  ['pageviews', 'Pageviews'],
  ['bounceRate', 'Bounce rate'],
  ['visitDuration', 'Visit duration'],
  ['viewsPerVisit', 'Views per visit'],
] as const;

/** Each panel: its name in the URL, its title, and its tabs as [dimension, label, second metric]. */
const PANELS = [
  [
    'pages',
    'Pages',
    [
      ['path', 'Top', 'pageviews'],
      ['entryPage', 'Entry', 'visits'],
      ['exitPage', 'Exit', 'visits'],
    ],
  ],
  [
    'sources',
    'Sources',
    [
      ['source', 'Source', 'visits'],
      ['channel', 'Channel', 'visits'],
      ['utmSource', 'UTM source', 'visits'],
      ['utmMedium', 'UTM medium', 'visits'],
      ['utmCampaign', 'UTM campaign', 'visits'],
    ],
  ],
  [
    'locations',
    'Locations',
    [
      ['country', 'Country', 'visits'],
      ['region', 'Region', 'visits'],
      ['city', 'City', 'visits'],
    ],
  ],
  [
    'devices',
    'Devices',
    [
      ['device', 'Device', 'visits'],
      ['browser', 'Browser', 'visits'],
      ['os', 'OS', 'visits'],
    ],
  ],
  [
    'events',
    'Custom events',
    [
      ['eventType', 'Events', 'events'],
      ['props', 'Props', 'events'],
    ],
  ],
] as const;

export interface DashboardOptions {
  siteId: string;
  /** `POST /api/query` under the mount prefix. */
  api: string;
  base: string;
  /** Signed in with a key: offer to log out. */
  session: boolean;
}

export function dashboardPage(assets: PageAssets, { siteId, api, base, session }: DashboardOptions) {
  const panel = ([
    name,
    title,
    tabs,
  ]: (typeof PANELS)[number]) => html`<section class="card panel" data-panel="${name}" aria-labelledby="${name}-title">
<div class="panel-head">
<h2 id="${name}-title">${title}</h2>
<div role="tablist" aria-label="${title}">${tabs.map(
    ([dimension, label, second], index) =>
      html`<button type="button" role="tab" data-tab="${dimension}" data-second="${second}" aria-selected="${index === 0}" tabindex="${index === 0 ? 0 : -1}">${label}</button>`,
  )}</div>
</div>
${
  name === 'events'
    ? html`<form id="prop-form" hidden><label class="visually-hidden" for="prop">Property key</label><input id="prop" name="prop" type="text" placeholder="Property key, e.g. plan" autocomplete="off"><button class="btn" type="submit">Break down</button></form>`
    : ''
}
<div class="cols" aria-hidden="true"><span></span><span class="num">Visitors</span><span class="num second"></span></div>
<ol class="rows" aria-label="${title}"></ol>
<p class="note" aria-live="polite"></p>
<div class="panel-foot"><button type="button" class="link-btn" data-csv>Download CSV</button></div>
</section>`;

  return layout(
    `${siteId} · Tally`,
    assets,
    html`<header class="top">
<h1><a class="brand" href="${base}/">Tally</a> / ${siteId}</h1>
<span class="live" aria-live="polite"><b id="live">–</b> visitors now</span>
${session ? html`<form method="post" action="${base}/dashboard/logout"><button class="link-btn" type="submit">Log out</button></form>` : ''}
</header>
<main id="dashboard" data-site="${siteId}" data-api="${api}">
<div class="controls">
<label class="visually-hidden" for="range">Date range</label>
<select id="range">${RANGES.map(([value, label]) => html`<option value="${value}">${label}</option>`)}</select>
<form id="custom-range" hidden>
<label for="from">From</label><input id="from" type="date" required>
<label for="to">to</label><input id="to" type="date" required>
<button class="btn" type="submit">Apply</button>
</form>
<label><input id="compare" type="checkbox"> Compare with previous period</label>
<span id="period"></span>
</div>
<div id="filters" aria-label="Filters"></div>
<p id="error" class="error" role="alert" hidden></p>
<section class="card metrics" aria-label="Headline metrics">
${HEADLINE.map(
  ([metric, label]) =>
    html`<button type="button" class="metric" data-metric="${metric}" aria-pressed="${metric === 'visitors'}"><span class="label">${label}</span><span class="value">–</span><span class="change" hidden></span></button>`,
)}
</section>
<section class="card chart-card" aria-label="Chart">
<p id="chart-legend"></p>
<div id="chart"></div>
</section>
<div class="panels">
${PANELS.map(panel)}
</div>
</main>`,
    true,
  );
}
