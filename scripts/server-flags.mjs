/**
 * The Node.js flags the server runs with, wherever Tally starts it: `npm start`
 * (`start.mjs`), the Docker image's `CMD` (kept equal to this list by
 * `packages/server/test/docker-compose.test.ts`) and the bench.
 *
 * `--max-semi-space-size=8` (MiB): V8's young generation grows to three times
 * this, 48 MiB by default on Node 20. A worker folding a backlog allocates fast
 * (10,000 events to a fold, two folds in flight), and the young generation then
 * stays at its largest; with 8 MiB the same drains peaked at 220–250 MB instead
 * of 252–308, with no loss of drain speed (docs/scaling.md, "Folds of 10,000 events").
 */
export const SERVER_NODE_FLAGS = ['--max-semi-space-size=8'];
