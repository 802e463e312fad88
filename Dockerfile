# One build, then one small runtime image per service: `docker build --target edge|ingest|mock-model .`
# (compose picks the target). Every image runs as the unprivileged `node` user, owns none of its files,
# and has a healthcheck.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc tsconfig.json tsconfig.base.json ./
COPY packages/protocol/package.json packages/protocol/
COPY packages/store/package.json packages/store/
COPY packages/shared/package.json packages/shared/
COPY packages/processors/package.json packages/processors/
COPY packages/client/package.json packages/client/
COPY packages/client/bin packages/client/bin
COPY services/edge/package.json services/edge/
COPY services/ingest/package.json services/ingest/
COPY services/mock-model/package.json services/mock-model/
COPY web/package.json web/
RUN npm ci --no-audit --no-fund
COPY packages packages
COPY services services
COPY web web
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
# The services never need npm, yarn or corepack at run time; dropping them saves space and attack surface.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack /opt/yarn-* \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg
ENV NODE_ENV=production
WORKDIR /app
# Only what runs: production node_modules (workspace links included), compiled output and the Lua scripts.
# Files stay owned by root, so the service cannot rewrite its own code.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/packages/protocol/package.json packages/protocol/
COPY --from=build /app/packages/protocol/dist packages/protocol/dist
COPY --from=build /app/packages/store/package.json packages/store/
COPY --from=build /app/packages/store/dist packages/store/dist
COPY --from=build /app/packages/store/lua packages/store/lua
COPY --from=build /app/packages/shared/package.json packages/shared/
COPY --from=build /app/packages/shared/dist packages/shared/dist
COPY --from=build /app/packages/processors/package.json packages/processors/
COPY --from=build /app/packages/processors/dist packages/processors/dist
COPY --from=build /app/services/edge/package.json services/edge/
COPY --from=build /app/services/edge/dist services/edge/dist
COPY --from=build /app/services/ingest/package.json services/ingest/
COPY --from=build /app/services/ingest/dist services/ingest/dist
COPY --from=build /app/services/mock-model/package.json services/mock-model/
COPY --from=build /app/services/mock-model/dist services/mock-model/dist
# create-api-key.js: `docker compose run --rm --no-deps edge node scripts/create-api-key.js --tenant <name>`.
COPY scripts/healthcheck.js scripts/create-api-key.js scripts/
USER node

FROM runtime AS mock-model
# The mock's `transcript` control replays recorded files from here.
COPY test/fixtures/transcripts test/fixtures/transcripts
ENV MOCK_HOST=0.0.0.0 MOCK_PORT=8090
EXPOSE 8090
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD node scripts/healthcheck.js "http://127.0.0.1:${MOCK_PORT}/healthz"
CMD ["node", "services/mock-model/dist/main.js"]

FROM runtime AS ingest
# /metrics, /healthz and /readyz on HOST; listen beyond loopback so Prometheus and probes can reach them.
ENV HOST=0.0.0.0 METRICS_PORT=9091
EXPOSE 9091
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD node scripts/healthcheck.js "http://127.0.0.1:${METRICS_PORT}/healthz"
CMD ["node", "services/ingest/dist/main.js"]

# Last, so a plain `docker build .` gives the edge.
FROM runtime AS edge
# The demo page the edge serves at / (WEB_DIR=web/dist, relative to /app).
COPY --from=build /app/web/dist web/dist
# HEALTH_PORT: probes on a listener (and thread) of their own, which a connection flood on PORT cannot hold up.
ENV HOST=0.0.0.0 PORT=8080 HEALTH_PORT=8081
EXPOSE 8080 8081
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD node scripts/healthcheck.js "http://127.0.0.1:${HEALTH_PORT:-$PORT}/healthz"
CMD ["node", "services/edge/dist/main.js"]
