#!/usr/bin/env bash
# test.sh sets Arbor up (setup.sh) and runs every test of every package: unit, contract
# (in-process and over gRPC) and integration. It ends with one line: 'N passed, N failed, N skipped'.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

# What only the tests need: a Docker engine (images are built with dockerode), Debian's
# registry v2 server (the tests start it on loopback), skopeo/umoci (compared against),
# systemd for `systemd-analyze verify scripts/arbord.service` (works without systemd as pid 1).
# shellcheck source=scripts/lib.sh
. ./scripts/lib.sh
apt_install docker.io docker-registry skopeo umoci runc systemd
start_dockerd

export TURBO_TELEMETRY_DISABLED=1
export ARBOR_TEST_RESULTS_DIR
ARBOR_TEST_RESULTS_DIR=$(mktemp -d /tmp/arbor-test-results.XXXXXX)

status=0
pnpm turbo run test --continue --concurrency=1 || status=$?
node scripts/summarize-tests.js "$ARBOR_TEST_RESULTS_DIR" || status=1
exit "$status"
