import { defaultClientConditions, defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

/**
 * Workspace packages export their TypeScript sources under the `source` condition (and built
 * `dist/` for everyone else), so tests run on the sources with no build step.
 */
const fromSource = {
  resolve: { conditions: ['source', ...defaultClientConditions] },
  ssr: { resolve: { conditions: ['source', ...defaultServerConditions] } },
};

export default defineConfig({
  test: {
    projects: [
      {
        ...fromSource,
        test: {
          name: 'shared',
          // Projects with their own maxWorkers need their own group; groups run one after another.
          sequence: { groupOrder: 0 },
          include: ['packages/shared/src/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        ...fromSource,
        test: {
          name: 'server',
          sequence: { groupOrder: 1 },
          include: ['packages/server/{src,test}/**/*.test.ts'],
          // The child-process tests run the built bundle; this builds it when a source is newer.
          globalSetup: ['packages/server/test/global-setup.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // Each file owns a database and a queue prefix; two at a time suits a 2-core machine.
          maxWorkers: 2,
        },
      },
      {
        ...fromSource,
        test: {
          name: 'sdk',
          sequence: { groupOrder: 2 },
          include: ['packages/sdk/src/**/*.test.ts'],
          environment: 'happy-dom',
          // Not localhost: the tracker skips local pages by default.
          environmentOptions: { happyDOM: { url: 'https://example.com/' } },
        },
      },
      {
        ...fromSource,
        test: {
          // Builds the IIFE once (globalSetup), checks its size, and drives Chromium against the real stack.
          name: 'sdk-browser',
          sequence: { groupOrder: 3 },
          include: ['packages/sdk/test/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['packages/sdk/test/build.ts'],
          testTimeout: 90_000,
          hookTimeout: 90_000,
          maxWorkers: 1,
        },
      },
      {
        ...fromSource,
        test: {
          // The repository as a user meets it: packed and installed packages, and the examples run as their
          // READMEs say against a real server. Slow (npm installs, Chromium), so last and one file at a time.
          name: 'repo',
          sequence: { groupOrder: 4 },
          include: ['test/**/*.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          environment: 'node',
          testTimeout: 240_000,
          hookTimeout: 300_000,
          maxWorkers: 1,
        },
      },
    ],
  },
});
