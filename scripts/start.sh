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

# Where systemd is pid 1, it runs arbord (scripts/arbord.service): a crash is followed by a
# restart, which restores every container. The unit's drop-in carries this script's arguments.
if [ -d /run/systemd/system ]; then
  rm -f "$pidfile"
  ready=unix:///run/arbor/arbord.sock
  prev=""
  for arg in "$@"; do
    case "$arg" in
      *[[:space:]\"\\]*)
        echo "[start] under systemd an argument cannot hold spaces, quotes or backslashes: '$arg'; put it in /etc/arbor/arbord.yaml" >&2
        exit 2
        ;;
    esac
    listen=""
    [ "$prev" = --listen ] && listen=$arg
    case "$arg" in --listen=*) listen=${arg#--listen=} ;; esac
    # the readiness check pings a unix socket; a TCP listener needs client certificates
    case "$listen" in unix://*) ready=$listen ;; tcp://*) ready=none ;; esac
    prev=$arg
  done
  unit=/etc/systemd/system/arbord.service
  install -m 0644 scripts/arbord.service "$unit"
  install -d -m 0755 "$unit.d"
  args="$*"
  # % starts a systemd specifier: %% is a literal one
  printf '# written by scripts/start.sh: its arguments for arbord\n[Service]\nEnvironment="ARBORD_ARGS=%s" "ARBORD_READY_ADDRESS=%s"\n' \
    "${args//%/%%}" "$ready" >"$unit.d/start-sh.conf"
  systemctl daemon-reload
  systemctl enable --quiet arbord.service
  # restart returns once ExecStartPost's arbor ping answers, or fails
  if systemctl restart arbord.service; then
    echo "[start] arbord is running (pid $(systemctl show -p MainPID --value arbord.service), log $log, systemd unit arbord.service)"
    echo "[start] try: h=\$(arbor create) && arbor run \"\$h\" -- echo hi && arbor destroy \"\$h\""
    exit 0
  fi
  echo "[start] arbord did not come up under systemd (systemctl status arbord); the end of its log:" >&2
  tail -n 20 "$log" >&2
  exit 1
fi

# Elsewhere (a container, a chroot): setsid, so arbord outlives this shell and its terminal;
# nothing restarts it after a crash.
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
