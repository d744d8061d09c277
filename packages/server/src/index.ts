/**
 * `@tally/server` as a library: `createTally()` to embed Tally in a host app
 * (SPEC §14). The server itself starts from `main.ts`.
 */
export { createTally, type Tally, type TallyOptions, type TallySettings } from './create-tally.js';
export { ConfigError, type Env } from './env.js';
