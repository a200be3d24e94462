# lib.sh: functions shared by setup.sh, start.sh and test.sh (sourced, not run).

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

need_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "setup: run as root (containers need namespaces, cgroups and mounts)" >&2
    exit 1
  fi
}

check_node() {
  if ! command -v node >/dev/null; then
    echo "setup: Node.js >= 20.19 is required and was not found on PATH" >&2
    exit 1
  fi
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' || {
    echo "setup: Node.js >= 20.19 is required, found $(node --version)" >&2
    exit 1
  }
}

# apt_install installs the Debian packages not yet present, running apt-get update once.
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_pnpm() {
  if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
    log "npm i -g pnpm@$PNPM_VERSION"
    # corepack cannot verify signatures against this registry: install pnpm with npm.
    npm i -g --silent "pnpm@$PNPM_VERSION" >/dev/null
  fi
}

# start_dockerd starts the Docker engine unless one answers already, and waits for it.
start_dockerd() {
  docker version >/dev/null 2>&1 && return 0
  log "starting dockerd (log /var/log/arbor/dockerd.log)"
  mkdir -p /var/log/arbor
  setsid nohup dockerd >>/var/log/arbor/dockerd.log 2>&1 </dev/null &
  for _ in $(seq 150); do
    docker version >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "dockerd did not start; the end of its log:" >&2
  tail -n 20 /var/log/arbor/dockerd.log >&2
  return 1
}
