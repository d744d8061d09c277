/// <reference types="vite/client" />
/**
 * A single-page app using the npm package: `init` once, and the SDK counts a
 * page view on load and on every client-side route change by itself; custom
 * events go through `track`. Configure with VITE_TALLY_API and VITE_TALLY_SITE_ID.
 */
import { identify, init, track } from '@tally/sdk';

init({
  siteId: import.meta.env.VITE_TALLY_SITE_ID ?? 'spa_example',
  // The Tally server; by default port 3000 of the host this page was opened on.
  api: import.meta.env.VITE_TALLY_API ?? `${location.protocol}//${location.hostname}:3000`,
  // Only so the example counts visits on your machine; leave it out in production.
  excludeLocalhost: false,
  // Automated browsers are skipped by default; the repository's browser test turns this on.
  excludeWebdriver: import.meta.env.VITE_TALLY_ALLOW_AUTOMATION !== 'true',
});

const pages: Record<string, string> = {
  '/': '<h1>Home</h1><p>Welcome.</p>',
  '/products': '<h1>Products</h1><button id="add" type="button">Add to cart</button>',
  '/about': '<h1>About</h1><button id="login" type="button">Log in</button>',
};

function render() {
  const view = document.getElementById('view') as HTMLElement;
  view.innerHTML = pages[location.pathname] ?? '<h1>Not found</h1>';
  document.getElementById('add')?.addEventListener('click', () => track('add_to_cart', { sku: 'A-1', price: 12.5 }));
  document.getElementById('login')?.addEventListener('click', () => identify('user_42'));
}

document.querySelector('nav')?.addEventListener('click', (event) => {
  const link = (event.target as Element).closest('a');
  if (!link) return;
  event.preventDefault();
  history.pushState(null, '', link.pathname);
  render();
});
addEventListener('popstate', render);
render();
