#!/usr/bin/env bash
# start.sh sets Arbor up (setup.sh), puts `arbor` and `arbord` on PATH and starts arbord in
# the background with the default config, listening on /run/arbor/arbord.sock.
# Extra arguments go to arbord, e.g. ./scripts/start.sh --backend fake
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
./scripts/setup.sh

for bin in arbor:packages/client/dist/cli.js arbord:packages/server/dist/main.js; do
  name=${bin%%:*}
  printf '#!/bin/sh\nexec node %s "$@"\n' "$root/${bin#*:}" >"/usr/local/bin/$name"
  chmod 0755 "/usr/local/bin/$name"
done

# The log says what containers run, their handles and errors: for root and group adm (Debian's
# log readers) only, a 0750 dir and 0640 files. The umask makes a new log 0640 from the start;
# install -d, chgrp and chmod tighten what an earlier start or setup.sh (dockerd.log) left.
log=/var/log/arbor/arbord.log
loggroup=$(getent group adm >/dev/null && echo adm || echo root)
install -d -m 0750 -g "$loggroup" /var/log/arbor
(umask 027 && touch "$log")
chgrp "$loggroup" /var/log/arbor/*.log
chmod 0640 /var/log/arbor/*.log
mkdir -p /run/arbor
pidfile=/run/arbor/arbord.pid
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  echo "[start] stopping the arbord this script started before (pid $(cat "$pidfile"))"
  kill -TERM "$(cat "$pidfile")"
  for _ in $(seq 50); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.1; done
fi

# setsid: arbord outlives this shell and its terminal.
setsid nohup arbord "$@" >>"$log" 2>&1 </dev/null &
echo $! >"$pidfile"

for _ in $(seq 100); do
  if arbor ping >/dev/null 2>&1; then
    echo "[start] arbord is running (pid $(cat "$pidfile"), log $log)"
    echo "[start] try: h=\$(arbor create) && arbor run \"\$h\" -- echo hi && arbor destroy \"\$h\""
    exit 0
  fi
  kill -0 "$(cat "$pidfile")" 2>/dev/null || break
  sleep 0.1
done
echo "[start] arbord did not come up; the end of its log:" >&2
tail -n 20 "$log" >&2
exit 1
