#!/usr/bin/env bash
# setup.sh installs everything Arbor needs on a Debian machine (as root) and builds it.
# It is idempotent: a second run only checks. start.sh and test.sh call it first.
set -euo pipefail
cd "$(dirname "$0")/.."

export TURBO_TELEMETRY_DISABLED=1
PNPM_VERSION=12.21.0

# shellcheck source=scripts/lib.sh
. ./scripts/lib.sh

need_root
check_node
# gcc/make/libc6-dev/libseccomp-dev: native/ helpers; iproute2/iptables: container networks;
# busybox-static: the default rootfs; attr: overlay xattrs of image layers; btrfs-progs: disk
# quotas (qgroups on <stateDir>/volumes.btrfs; this kernel has no XFS or ext4 project quotas);
# runc: the runc backend (--backend runc).
apt_install ca-certificates git make gcc libc6-dev libseccomp-dev iproute2 iptables iputils-ping busybox-static attr btrfs-progs runc
install_pnpm
log "native helpers"
make -s -C native
log "default rootfs"
./scripts/build-rootfs.sh >/dev/null
log "pnpm install"
pnpm install --frozen-lockfile --reporter=silent
log "build"
pnpm turbo run build --output-logs=errors-only
log "ready"
