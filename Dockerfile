# Leasehold node image (docs/deploy.md). Two stages: build (npm ci, tsc) and a slim runtime holding only
# production dependencies. Configuration is by environment only (the LEASEHOLD_* variables of
# docs/configuration.md); the image sets LEASEHOLD_HOST=0.0.0.0 because the CLI's default, 127.0.0.1,
# would only be reachable from inside the container.
#
#   docker build -t leasehold .                         (official node:20 images from Docker Hub)
#   podman build --build-arg BUILD_IMAGE=… --build-arg BASE_IMAGE=… .
#                                                       (no registry: deploy/image/make-local-base.sh)
ARG BUILD_IMAGE=docker.io/library/node:20-bookworm
ARG BASE_IMAGE=docker.io/library/node:20-bookworm-slim

FROM ${BUILD_IMAGE} AS build
WORKDIR /src
# Manifests first, so the dependency layer (and better-sqlite3's native build) is cached across
# source changes. Scripts are off for the install (the root `prepare` would build before the sources
# are here); the one native module is then built on its own.
COPY package.json package-lock.json ./
COPY packages/domain/package.json packages/domain/
COPY packages/store/package.json packages/store/
COPY packages/client/package.json packages/client/
COPY packages/devtools/package.json packages/devtools/
COPY packages/server/package.json packages/server/
COPY packages/dashboard/package.json packages/dashboard/
RUN npm ci --ignore-scripts --no-audit --no-fund && npm rebuild better-sqlite3
COPY tsconfig.base.json ./
COPY packages ./packages
RUN npx tsc -b packages/server packages/client packages/dashboard \
  && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
  && rm -rf packages/*/src packages/*/test packages/*/tsconfig.json packages/*/*.tsbuildinfo \
  && mkdir -p /out/app /out/data && cp -a package.json node_modules packages /out/app/

FROM ${BASE_IMAGE}
# NODE_OPTIONS: a young generation of 2 MB semi-spaces (V8's default 16 MB): ~25 MB less RSS idle and
# under load for ~3% of embedded throughput; a 1 GB old-generation limit: V8 grows the heap by 1.6x its
# live size, not 4x (node RSS at 100,000 leases 181 MB, not 313) (bench/README.md, docs/ha.md, issue 14);
# devtools' NODE_V8_OPTIONS too.
ENV NODE_ENV=production \
    NODE_OPTIONS="--max-semi-space-size=2 --max-old-space-size=1024" \
    LEASEHOLD_HOST=0.0.0.0 \
    LEASEHOLD_PORT=7300 \
    LEASEHOLD_DATA_DIR=/data \
    LEASEHOLD_DRAIN_DELAY_MS=2000
WORKDIR /app
# A fixed numeric user (not 0), so Kubernetes' runAsNonRoot can check it without /etc/passwd.
COPY --from=build /out/app /app
COPY --from=build --chown=10001:10001 /out/data /data
USER 10001:10001
VOLUME ["/data"]
EXPOSE 7300
# /readyz: the store answers (quorum in a cluster). The node binary is the only tool in the image.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.LEASEHOLD_PORT||7300)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM (docker/podman stop, Kubernetes) drains the node and closes the store; see docs/deploy.md.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/packages/server/bin/leasehold.js"]
CMD ["serve"]
