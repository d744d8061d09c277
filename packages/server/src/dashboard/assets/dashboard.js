// Tally dashboard (SPEC §13). Every figure comes from POST /api/query; the URL
// holds the whole view (range, comparison, filters, tabs), so a link reproduces it.
// Plain browser JavaScript, no build step and no dependency.
(() => {
  const root = document.getElementById('dashboard');
  if (!root) return;
  const SITE = root.dataset.site;
  const API = root.dataset.api;
  const numbers = new Intl.NumberFormat('en');
  const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const HEADLINE = ['visitors', 'visits', 'pageviews', 'bounceRate', 'visitDuration', 'viewsPerVisit'];
  /** Metrics where a fall is good news. */
  const LOWER_IS_BETTER = new Set(['bounceRate']);
  const LABELS = {
    visitors: 'Visitors',
    visits: 'Visits',
    pageviews: 'Pageviews',
    events: 'Events',
    bounceRate: 'Bounce rate',
    visitDuration: 'Visit duration',
    viewsPerVisit: 'Views per visit',
  };
  const DIMENSION_LABELS = {
    path: 'Page',
    entryPage: 'Entry page',
    exitPage: 'Exit page',
    source: 'Source',
    channel: 'Channel',
    utmSource: 'UTM source',
    utmMedium: 'UTM medium',
    utmCampaign: 'UTM campaign',
    country: 'Country',
    region: 'Region',
    city: 'City',
    device: 'Device',
    browser: 'Browser',
    os: 'OS',
    eventType: 'Event',
  };
  const PANEL_ROWS = 10;
  const LIVE_EVERY_MS = 30_000;

  // ---- state in the URL ----

  function readState() {
    const params = new URLSearchParams(location.search);
    const ranges = [...document.getElementById('range').options].map((option) => option.value);
    const state = {
      range: ranges.includes(params.get('range')) ? params.get('range') : '30d',
      from: params.get('from') || '',
      to: params.get('to') || '',
      compare: params.get('compare') === '1',
      metric: HEADLINE.includes(params.get('metric')) ? params.get('metric') : 'visitors',
      prop: params.get('prop') || '',
      share: params.get('share') || '',
      tabs: {},
      filters: [],
    };
    for (const panel of root.querySelectorAll('[data-panel]')) {
      const name = panel.dataset.panel;
      const tabs = [...panel.querySelectorAll('[role=tab]')].map((tab) => tab.dataset.tab);
      const chosen = params.get(name);
      state.tabs[name] = tabs.includes(chosen) ? chosen : tabs[0];
    }
    for (const [key, value] of params) if (key.startsWith('f.') && value) state.filters.push([key.slice(2), value]);
    return state;
  }

  function urlFor(state) {
    const params = new URLSearchParams();
    if (state.share) params.set('share', state.share);
    params.set('range', state.range);
    if (state.range === 'custom') {
      params.set('from', state.from);
      params.set('to', state.to);
    }
    if (state.compare) params.set('compare', '1');
    if (state.metric !== 'visitors') params.set('metric', state.metric);
    for (const [name, tab] of Object.entries(state.tabs)) {
      const first = root.querySelector(`[data-panel="${name}"] [role=tab]`).dataset.tab;
      if (tab !== first) params.set(name, tab);
    }
    if (state.prop) params.set('prop', state.prop);
    for (const [dimension, value] of state.filters) params.append(`f.${dimension}`, value);
    return `${location.pathname}?${params}`;
  }

  let state = readState();

  function go(change) {
    const next = { ...state, tabs: { ...state.tabs }, filters: [...state.filters], ...change };
    history.pushState(null, '', urlFor(next));
    state = next;
    render();
  }

  window.addEventListener('popstate', () => {
    state = readState();
    render();
  });

  // ---- the query API ----

  function dateRange() {
    if (state.range !== 'custom') return state.range;
    return state.from && state.to ? [state.from, state.to] : '30d';
  }

  function canCompare() {
    return state.range !== 'all';
  }

  async function query(body, format) {
    const headers = { 'Content-Type': 'application/json' };
    if (state.share) headers['X-Tally-Share'] = state.share;
    const response = await fetch(API, {
      method: 'POST',
      headers,
      credentials: 'same-origin',
      body: JSON.stringify({ siteId: SITE, ...body, ...(format ? { format } : {}) }),
    });
    if (!response.ok) {
      let message = `${response.status} ${response.statusText}`;
      try {
        const error = await response.json();
        message = [].concat(error.message).join('; ');
      } catch {}
      const failure = new Error(message);
      failure.status = response.status;
      throw failure;
    }
    return format === 'csv' ? response.text() : response.json();
  }

  function apiFilters(extra = []) {
    return [...state.filters.map(([dimension, value]) => ['is', dimension, [value]]), ...extra];
  }

  // ---- formatting ----

  function formatMetric(metric, value) {
    if (value === null || value === undefined) return '–';
    if (metric === 'bounceRate') return `${Math.round(value)}%`;
    if (metric === 'viewsPerVisit') return value.toFixed(2);
    if (metric === 'visitDuration') {
      const seconds = Math.round(value);
      const minutes = Math.floor(seconds / 60);
      return minutes > 0 ? `${minutes}m ${String(seconds % 60).padStart(2, '0')}s` : `${seconds}s`;
    }
    return numbers.format(value);
  }

  function formatBucket(dimension, key) {
    if (dimension === 'time:hour') return key.slice(11, 16);
    const month = MONTHS[Number(key.slice(5, 7)) - 1];
    if (dimension === 'time:month') return `${month} ${key.slice(0, 4)}`;
    return `${month} ${Number(key.slice(8, 10))}`;
  }

  function element(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === false || value === null || value === undefined) continue;
      if (name === 'text') node.textContent = value;
      else node.setAttribute(name, value === true ? '' : value);
    }
    node.append(...children);
    return node;
  }

  // ---- the controls ----

  const rangeSelect = document.getElementById('range');
  const customBox = document.getElementById('custom-range');
  const fromInput = document.getElementById('from');
  const toInput = document.getElementById('to');
  const compareBox = document.getElementById('compare');

  rangeSelect.addEventListener('change', () => {
    if (rangeSelect.value === 'custom') {
      customBox.hidden = false;
      fromInput.focus();
      return;
    }
    go({ range: rangeSelect.value, from: '', to: '' });
  });
  customBox.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!fromInput.value || !toInput.value) return;
    const [from, to] = [fromInput.value, toInput.value].sort();
    go({ range: 'custom', from, to });
  });
  compareBox.addEventListener('change', () => go({ compare: compareBox.checked }));

  for (const button of root.querySelectorAll('[data-metric]')) {
    button.addEventListener('click', () => go({ metric: button.dataset.metric }));
  }

  for (const panel of root.querySelectorAll('[data-panel]')) {
    const name = panel.dataset.panel;
    const tabs = [...panel.querySelectorAll('[role=tab]')];
    tabs.forEach((tab, index) => {
      tab.addEventListener('click', () => go({ tabs: { ...state.tabs, [name]: tab.dataset.tab } }));
      tab.addEventListener('keydown', (event) => {
        const step = event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0;
        if (!step) return;
        event.preventDefault();
        const next = tabs[(index + step + tabs.length) % tabs.length];
        next.focus();
        next.click();
      });
    });
    panel.querySelector('[data-csv]').addEventListener('click', () => downloadCsv(panel));
  }

  const propForm = document.getElementById('prop-form');
  if (propForm) {
    propForm.addEventListener('submit', (event) => {
      event.preventDefault();
      go({ prop: propForm.elements.prop.value.trim() });
    });
  }

  // ---- rendering ----

  let generation = 0;

  function showError(error) {
    const box = document.getElementById('error');
    if (!error) {
      box.hidden = true;
      return;
    }
    box.hidden = false;
    box.textContent =
      error.status === 401 ? 'Not allowed to read this site: log in again, or ask for a new link.' : error.message;
  }

  function renderControls() {
    rangeSelect.value = state.range;
    customBox.hidden = state.range !== 'custom';
    fromInput.value = state.from;
    toInput.value = state.to;
    compareBox.checked = state.compare && canCompare();
    compareBox.disabled = !canCompare();
    for (const button of root.querySelectorAll('[data-metric]')) {
      button.setAttribute('aria-pressed', String(button.dataset.metric === state.metric));
    }
    for (const panel of root.querySelectorAll('[data-panel]')) {
      for (const tab of panel.querySelectorAll('[role=tab]')) {
        const selected = tab.dataset.tab === state.tabs[panel.dataset.panel];
        tab.setAttribute('aria-selected', String(selected));
        tab.tabIndex = selected ? 0 : -1;
      }
    }
    if (propForm) propForm.elements.prop.value = state.prop;
    const chips = document.getElementById('filters');
    chips.replaceChildren(
      ...state.filters.map(([dimension, value], index) => {
        const label = `${DIMENSION_LABELS[dimension] || dimension} is ${value}`;
        const remove = element('button', { type: 'button', class: 'chip', 'aria-label': `Remove filter: ${label}` });
        remove.append(element('span', { text: label }), element('span', { 'aria-hidden': 'true', text: '×' }));
        remove.addEventListener('click', () => go({ filters: state.filters.filter((_, i) => i !== index) }));
        return remove;
      }),
    );
    document.title = `${SITE} · Tally`;
  }

  async function renderHeadline(ticket) {
    const answer = await query({
      metrics: HEADLINE,
      dateRange: dateRange(),
      filters: apiFilters(),
      ...(state.compare && canCompare() ? { compare: 'previousPeriod' } : {}),
    });
    if (ticket !== generation) return;
    const row = answer.results[0] || { metrics: HEADLINE.map(() => 0) };
    HEADLINE.forEach((metric, index) => {
      const card = root.querySelector(`[data-metric="${metric}"]`);
      const value = card.querySelector('.value');
      value.textContent = formatMetric(metric, row.metrics[index]);
      value.dataset.value = String(row.metrics[index]);
      const change = card.querySelector('.change');
      const percent = row.comparison ? row.comparison.change[index] : undefined;
      change.hidden = percent === undefined;
      change.className = 'change';
      if (percent === undefined) return;
      if (percent === null) {
        change.textContent = 'new';
        return;
      }
      change.textContent = `${percent > 0 ? '↑' : percent < 0 ? '↓' : ''}${Math.abs(percent)}%`;
      const good = LOWER_IS_BETTER.has(metric) ? percent < 0 : percent > 0;
      if (percent !== 0) change.classList.add(good ? 'up' : 'down');
      change.title = `${formatMetric(metric, row.comparison.metrics[index])} in the previous period`;
    });
    const period = document.getElementById('period');
    period.textContent = `${answer.meta.dateRange[0]} – ${answer.meta.dateRange[1]} (${answer.meta.timeZone})`;
  }

  function timeDimension() {
    const range = dateRange();
    if (range === 'today' || range === 'yesterday') return 'time:hour';
    if (range === '12mo' || range === 'year' || range === 'all') return 'time:month';
    if (Array.isArray(range)) {
      const days = (Date.parse(range[1]) - Date.parse(range[0])) / 86_400_000 + 1;
      if (days <= 2) return 'time:hour';
      if (days > 400) return 'time:month';
      if (days > 95) return 'time:week';
    }
    return 'time:day';
  }

  async function renderChart(ticket) {
    const dimension = timeDimension();
    const metric = state.metric;
    const answer = await query({
      metrics: [metric],
      dateRange: dateRange(),
      dimensions: [dimension],
      filters: apiFilters(),
      ...(state.compare && canCompare() ? { compare: 'previousPeriod' } : {}),
    });
    if (ticket !== generation) return;
    const labels = answer.results.map((row) => row.dimensions[0]);
    const current = answer.results.map((row) => row.metrics[0]);
    const previous = answer.results.every((row) => row.comparison)
      ? answer.results.map((row) => row.comparison.metrics[0])
      : null;
    drawChart(labels, current, previous, metric, dimension);
  }

  const SVG = 'http://www.w3.org/2000/svg';
  function svg(tag, attributes) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    return node;
  }

  let lastChart = null;
  function drawChart(labels, current, previous, metric, dimension) {
    lastChart = [labels, current, previous, metric, dimension];
    const box = document.getElementById('chart');
    const width = Math.max(box.clientWidth, 280);
    const height = width < 500 ? 180 : 240;
    const pad = { left: 44, right: 12, top: 12, bottom: 26 };
    const step = niceStep(Math.max(...current, ...(previous || []), 0), metric !== 'viewsPerVisit');
    const scale = step * 4;
    const x = (index) =>
      pad.left + (labels.length <= 1 ? 0 : (index * (width - pad.left - pad.right)) / (labels.length - 1));
    const y = (value) => pad.top + (1 - value / scale) * (height - pad.top - pad.bottom);
    const chart = svg('svg', {
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      role: 'img',
      'aria-label': `${LABELS[metric]} per ${dimension.slice(5)}`,
    });
    for (let tick = 0; tick <= 4; tick++) {
      const value = step * tick;
      chart.append(svg('line', { class: 'grid', x1: pad.left, x2: width - pad.right, y1: y(value), y2: y(value) }));
      const label = svg('text', { class: 'axis', x: pad.left - 6, y: y(value) + 4, 'text-anchor': 'end' });
      label.textContent = formatMetric(metric, value);
      chart.append(label);
    }
    const every = Math.max(1, Math.ceil(labels.length / Math.floor((width - pad.left) / 70)));
    labels.forEach((key, index) => {
      if (index % every) return;
      // The first and last labels hang inside the chart, not over its edges.
      const anchor = index === 0 ? 'start' : index === labels.length - 1 ? 'end' : 'middle';
      const label = svg('text', { class: 'axis', x: x(index), y: height - 8, 'text-anchor': anchor });
      label.textContent = formatBucket(dimension, key);
      chart.append(label);
    });
    const line = (values) => values.map((value, index) => `${index ? 'L' : 'M'}${x(index)},${y(value)}`).join('');
    if (previous) chart.append(svg('path', { class: 'line previous', d: line(previous) }));
    chart.append(svg('path', { class: 'line current', d: line(current), 'data-values': current.join(',') }));
    // One invisible column per bucket carries its figures as a tooltip.
    const column = labels.length > 1 ? (width - pad.left - pad.right) / (labels.length - 1) : width;
    labels.forEach((key, index) => {
      const hit = svg('rect', {
        class: 'hit',
        x: x(index) - column / 2,
        y: pad.top,
        width: column,
        height: height - pad.top - pad.bottom,
      });
      const title = svg('title', {});
      title.textContent = `${formatBucket(dimension, key)}: ${formatMetric(metric, current[index])}${
        previous ? ` (previous: ${formatMetric(metric, previous[index])})` : ''
      }`;
      hit.append(title);
      chart.append(hit);
    });
    box.replaceChildren(chart);
    const legend = document.getElementById('chart-legend');
    legend.textContent = previous ? `${LABELS[metric]} — solid: this period, dotted: previous period` : LABELS[metric];
  }

  /** The gap between the chart's 4 grid lines: 1, 2 or 5 times a power of ten, whole for counts. */
  function niceStep(top, whole) {
    const raw = Math.max(top, whole ? 4 : 0.04) / 4;
    const magnitude = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 5, 10].map((factor) => factor * magnitude).find((candidate) => candidate >= raw);
    return whole ? Math.max(1, Math.ceil(step)) : step;
  }

  let resizeTimer;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => lastChart && drawChart(...lastChart), 100);
  });

  /** What a panel's current tab asks for: its dimension, metrics and any extra filter. */
  function panelQuery(panel) {
    const tab = panel.querySelector(`[role=tab][data-tab="${state.tabs[panel.dataset.panel]}"]`);
    let dimension = tab.dataset.tab;
    const metrics = ['visitors', tab.dataset.second];
    const extra = [];
    if (dimension === 'props') {
      if (!state.prop) return null;
      dimension = `props:${state.prop}`;
    } else if (dimension === 'eventType' && !state.filters.some(([name]) => name === 'eventType')) {
      extra.push(['isNot', 'eventType', ['page_view']]);
    }
    return { metrics, dateRange: dateRange(), dimensions: [dimension], filters: apiFilters(extra) };
  }

  async function renderPanel(panel, ticket) {
    const list = panel.querySelector('.rows');
    const note = panel.querySelector('.note');
    const isProps = state.tabs[panel.dataset.panel] === 'props';
    if (propForm && panel.contains(propForm)) propForm.hidden = !isProps;
    const request = panelQuery(panel);
    if (!request) {
      list.replaceChildren();
      note.textContent = 'Type a property key to break custom events down by it.';
      return;
    }
    const answer = await query({ ...request, limit: PANEL_ROWS, orderBy: [[request.metrics[0], 'desc']] });
    if (ticket !== generation) return;
    const [dimension] = request.dimensions;
    const [, second] = request.metrics;
    panel.querySelector('.second').textContent = LABELS[second];
    const top = Math.max(1, ...answer.results.map((row) => row.metrics[0]));
    note.textContent = answer.results.length === 0 ? 'Nothing in this period.' : '';
    list.replaceChildren(
      ...answer.results.map((row) => {
        const value = row.dimensions[0];
        const item = element('li', { 'data-value': value === null ? '' : value });
        const label = value === null ? '(unknown)' : value;
        const filtered = state.filters.some(([name, chosen]) => name === dimension && chosen === value);
        const name =
          value === null || filtered
            ? element('span', { class: 'name', text: label })
            : element('a', {
                class: 'name',
                href: urlFor({
                  ...state,
                  filters: [...state.filters.filter(([name]) => name !== dimension), [dimension, value]],
                }),
                title: `Filter by ${DIMENSION_LABELS[dimension] || dimension} ${label}`,
                text: label,
              });
        if (name.tagName === 'A') {
          name.addEventListener('click', (event) => {
            if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
            event.preventDefault();
            go({ filters: [...state.filters.filter(([name]) => name !== dimension), [dimension, value]] });
          });
        }
        const bar = element('span', { class: 'bar', 'aria-hidden': 'true' });
        bar.style.width = `${(100 * row.metrics[0]) / top}%`;
        item.append(
          bar,
          name,
          element('span', { class: 'num', 'data-metric': 'visitors', text: formatMetric('visitors', row.metrics[0]) }),
          element('span', { class: 'num', 'data-metric': second, text: formatMetric(second, row.metrics[1]) }),
        );
        return item;
      }),
    );
  }

  async function downloadCsv(panel) {
    const request = panelQuery(panel);
    if (!request) return;
    try {
      const text = await query({ ...request, limit: 10_000 }, 'csv');
      const link = element('a', {
        href: URL.createObjectURL(new Blob([text], { type: 'text/csv' })),
        download: `${SITE}-${request.dimensions[0].replace(/[^\w-]+/g, '_')}.csv`,
      });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 1000);
    } catch (error) {
      showError(error);
    }
  }

  async function render() {
    const ticket = ++generation;
    renderControls();
    root.setAttribute('aria-busy', 'true');
    const jobs = [renderHeadline(ticket), renderChart(ticket)];
    for (const panel of root.querySelectorAll('[data-panel]')) jobs.push(renderPanel(panel, ticket));
    const results = await Promise.allSettled(jobs);
    if (ticket !== generation) return;
    const failed = results.find((result) => result.status === 'rejected');
    showError(failed ? failed.reason : null);
    root.setAttribute('aria-busy', 'false');
    root.dataset.rendered = String(ticket);
  }

  // ---- visitors now ----

  async function renderLive() {
    if (document.hidden) return;
    try {
      const answer = await query({ metrics: ['visitors'], dateRange: 'realtime' });
      const live = document.getElementById('live');
      const value = answer.results[0] ? answer.results[0].metrics[0] : 0;
      live.textContent = numbers.format(value);
      live.dataset.value = String(value);
    } catch {
      // The figures above say what went wrong; the live count just waits for the next try.
    }
  }

  render();
  renderLive();
  setInterval(renderLive, Number(root.dataset.liveEvery) || LIVE_EVERY_MS);
  document.addEventListener('visibilitychange', renderLive);
})();
