# syntax=docker/dockerfile:1
#
# leakwatch container image: the sidecar (ENTRYPOINT) plus the demo app (deploy/demo/app.mjs,
# run with `node deploy/demo/app.mjs` as the container command in the Kubernetes example).
#
#   docker build -t ghcr.io/leakwatch/leakwatch:0.1.0 .
#   docker run --rm -p 9464:9464 ghcr.io/leakwatch/leakwatch:0.1.0 --target app=127.0.0.1:9229
#
# Base image: Node.js 26 "Lithium", the Active LTS line since 2026-10-28 (Node 24 moved to
# Maintenance LTS on 2026-10-20 and Node 20 reached end of life in April 2026), at an exact
# version tag so a rebuild does not silently change Node. 26.13.0 carries the October 2026
# security fixes (it is 26.12.1 marked LTS).
# Debian slim (glibc) rather than node:*-alpine (musl): Node's official Linux builds and their
# test matrix are glibc, the musl builds are an "experimental" tier, and the dependencies are
# pure JavaScript, so alpine would only save ~25 MB compressed. bookworm-slim rather than
# trixie-slim only because this exact tag is the one verified in the official image list;
# trixie-slim (Debian 13, the default of node:26-slim) is the better base at the next bump.
# Reproducible builds pin the digest too (node:26.13.0-bookworm-slim@sha256:...): how to get
# it and keep it current is in docs/kubernetes.md ("The image's base").
ARG NODE_IMAGE=node:26.13.0-bookworm-slim

# ---------------------------------------------------------------------------
# Build stage: all dependencies (TypeScript is a dev dependency), compile src/ to dist/.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---------------------------------------------------------------------------
# Runtime stage: production dependencies only, the compiled sidecar and the demo app.
FROM ${NODE_IMAGE} AS runtime
ARG NODE_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="leakwatch" \
      org.opencontainers.image.description="Sidecar that watches Node.js processes over the V8 inspector, detects memory leaks and exports Prometheus and OpenTelemetry metrics" \
      org.opencontainers.image.source="https://github.com/leakwatch/leakwatch" \
      org.opencontainers.image.url="https://github.com/leakwatch/leakwatch" \
      org.opencontainers.image.documentation="https://github.com/leakwatch/leakwatch/blob/main/README.md" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="leakwatch" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="docker.io/library/${NODE_IMAGE}"
ENV NODE_ENV=production
WORKDIR /app
# package.json is also read at run time (the version lives there: src/version.ts).
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY deploy/demo ./deploy/demo
# Everything above belongs to root and is read-only for the runtime user; the sidecar writes
# nothing to disk, so the container also runs with readOnlyRootFilesystem in Kubernetes.
# 65532 is the conventional "nonroot" UID/GID (distroless); numeric so that Kubernetes'
# runAsNonRoot can verify it without an /etc/passwd lookup.
USER 65532:65532
EXPOSE 9464
# No HEALTHCHECK: Kubernetes probes /healthz (liveness) and /readyz (readiness) instead.
ENTRYPOINT ["node", "dist/cli.js"]
