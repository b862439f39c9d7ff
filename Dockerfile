# syntax=docker/dockerfile:1
#
# One image for every process of the analytics backend (see docs/deployment.md):
#   API (default):  node dist/src/main.js
#   worker:         node dist/worker/processor.js
#   daily cron:     node dist/src/cron/main.js
# The entry points run node directly: the npm scripts' pre-hooks (prestart, preworker:prod, precron)
# would rebuild with tsc, which the runtime stage does not have.

# ---- build: dependencies (with the better-sqlite3 native addon), TypeScript and the tracker -> dist/
FROM node:20-bookworm-slim AS build
WORKDIR /app

# A C++ toolchain for native addons (better-sqlite3) when no prebuilt binary matches the platform.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*

# Dependencies first, so that a source change reuses this layer. Install scripts of dependencies run:
# npm 10 (this base image) runs them by default, npm 11 runs those listed in package.json "allowScripts".
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

COPY tsconfig.json ./
COPY src ./src
COPY worker ./worker
COPY tracker ./tracker
# The dashboard: a Next.js static export built into dist/web by `npm run build`.
COPY scripts ./scripts
COPY web ./web
ENV NEXT_TELEMETRY_DISABLED=1
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# ---- runtime: production dependencies and compiled JavaScript only ------------------------------
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    DATA_DIR=/app/data
WORKDIR /app

# package.json is needed at run time: "type": "module" makes dist/*.js ES modules.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist

# Code stays owned by root (read-only for the app); only the embedded SQLite directory is writable.
# Mount a volume here when running without PostgreSQL/MongoDB (DATA_DIR, the SQLite file).
RUN mkdir -p /app/data && chown node:node /app/data

USER node
EXPOSE 3000

# No curl in slim images: node's fetch. 200 when queue and store answer, 503 otherwise.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/api/health',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

CMD ["node", "dist/src/main.js"]
