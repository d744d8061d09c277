/**
 * The script-tag entry, built as the minified IIFE `tally.js`:
 *
 *   <script defer src="https://stats.example.com/tally.js" data-site-id="my_site"></script>
 *
 * Options come from the tag's `data-*` attributes (`data-site-id`, `data-api`,
 * `data-spa="false"`, `data-hash="true"`, `data-exclude-localhost="false"`,
 * `data-debug`, …: every option of `createTracker` with a dashed name;
 * "true", "false" and a bare attribute become booleans). The endpoint defaults
 * to the folder the script is served from (its origin for `/tally.js`, `/_t`
 * for `/_t/s.js`, as when Tally is mounted in a host app); `data-api` takes a
 * URL or a path on the page's origin (`/_t`). Calls kept in
 * `window.tally.q` by a stub (see examples/script-tag) before the script loaded
 * are replayed, and afterwards `tally(name, …args)`
 * calls the tracker method of that name (`tally('identify', 'u1')`) or tracks
 * a custom event (`tally('signup', { plan: 'pro' })`).
 */
import { type Props, startTracker, type TallyOptions } from './tracker.js';

type Command = (name: string, ...args: unknown[]) => void;

try {
  const script = document.currentScript as HTMLScriptElement;
  // The API sits beside the script: `https://stats.example.com/tally.js` → that origin, `/_t/s.js` → `/_t`.
  const options: Record<string, unknown> = { api: new URL('.', script.src).href };
  for (const [key, value] of Object.entries(script.dataset)) {
    // A bare attribute (`data-debug`) is on, as in HTML.
    options[key] = value === 'true' || value === '' || (value !== 'false' && value);
  }
  // Without a site id the tag does nothing, and calls stay in the stub's queue.
  if (!options.siteId) throw 0;
  const tracker = startTracker(options as unknown as TallyOptions);
  const methods = tracker as unknown as Record<string, ((...args: unknown[]) => unknown) | undefined>;
  const w = window as unknown as { tally?: { q?: ArrayLike<unknown>[] } | Command };
  const waiting = (w.tally as { q?: ArrayLike<unknown>[] } | undefined)?.q ?? [];
  const tally: Command = (name, ...args) => {
    try {
      const method = methods[name];
      method ? method(...args) : tracker.track(name, args[0] as Props);
    } catch {}
  };
  w.tally = tally;
  for (const call of waiting) tally(...(Array.from(call) as [string]));
} catch {}
