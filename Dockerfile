# syntax=docker/dockerfile:1
# Tally's server image: one image, three roles (ROLE=all|api|worker).
# Stage 1 installs everything and builds; stage 2 keeps production dependencies and the bundles only.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# Manifests first, so dependency layers are reused while only sources change.
COPY package.json package-lock.json ./
COPY packages/shared/package.json packages/shared/
COPY packages/sdk/package.json packages/sdk/
COPY packages/server/package.json packages/server/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.base.json ./
COPY packages ./packages
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=3000 \
    TALLY_DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/packages/shared/package.json ./packages/shared/
COPY --from=build /app/packages/sdk/package.json ./packages/sdk/
COPY --from=build /app/packages/sdk/dist ./packages/sdk/dist
COPY --from=build /app/packages/server/package.json ./packages/server/
COPY --from=build /app/packages/server/dist ./packages/server/dist
COPY --from=build /app/packages/server/drizzle ./packages/server/drizzle
COPY --from=build /app/packages/server/healthcheck.mjs ./packages/server/
# The embedded default (no DATABASE_URL, no Redis) keeps its database here; mount a volume to keep it.
RUN mkdir -p /data && chown node:node /data
VOLUME /data
USER node
EXPOSE 3000
# Probes PORT for ROLE=all|api, METRICS_PORT for a worker; a worker without METRICS_PORT has no port to
# probe and counts as healthy while it runs (see the script). Compose passes /readyz to it instead.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "packages/server/healthcheck.mjs"]
# The flags of scripts/server-flags.mjs (a test keeps the two equal).
CMD ["node", "--max-semi-space-size=8", "packages/server/dist/main.js"]
