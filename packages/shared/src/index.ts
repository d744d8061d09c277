export * from './errors.js';
export * from './event.js';
export * from './limits.js';
export * from './query.js';
export * from './responses.js';
export * from './sites.js';
export * from './stats.js';
