# The alref CLI as a container image (CPU): Node 20, ffmpeg, onnxruntime (CPU), the bundled CLI.
#
#   docker build -t alref-notebooks .
#   docker run --rm -v /data:/data -v $PWD/out:/out -e OPENAI_API_KEY alref-notebooks eval --dataset mevis --root /data/mevis --out /out/mevis
#
# CUDA variant: a CUDA 12 runtime with cuDNN 9 as the base and let onnxruntime-node fetch its CUDA provider:
#   docker build -t alref-notebooks:cuda --build-arg BASE=nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04 --build-arg ORT_INSTALL=cuda12 .
# then run with `--gpus all` and `--set models.executionProvider=cuda` (a failed CUDA session falls back to CPU).
# Apptainer/Singularity on Slurm: `apptainer build alref.sif docker-daemon://alref-notebooks:latest`.
ARG BASE=node:20-bookworm-slim

FROM node:20-bookworm-slim AS build
ARG ORT_INSTALL=skip
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
# onnxruntime-node ships its CPU binaries; ORT_INSTALL=cuda12 also downloads the CUDA 12 provider at install
RUN ONNXRUNTIME_NODE_INSTALL="$ORT_INSTALL" PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM ${BASE}
# node from NodeSource when the base image (CUDA) has none; ffmpeg from the distribution
RUN set -eux; apt-get update; \
    apt-get install -y --no-install-recommends ffmpeg ca-certificates curl; \
    if ! command -v node >/dev/null; then \
      curl -fsSL https://deb.nodesource.com/setup_20.x | bash -; apt-get install -y --no-install-recommends nodejs; \
    fi; \
    rm -rf /var/lib/apt/lists/*
WORKDIR /opt/alref
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/prompts ./prompts
COPY --from=build /src/assets ./assets
COPY --from=build /src/media ./media
RUN chmod +x dist/cli.js && ln -s /opt/alref/dist/cli.js /usr/local/bin/alref
# models and caches in a mountable place; ffmpeg from PATH
ENV XDG_CACHE_HOME=/cache
ENTRYPOINT ["alref"]
CMD ["--help"]
