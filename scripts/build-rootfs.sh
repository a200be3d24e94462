#!/usr/bin/env bash
# build-rootfs.sh builds the default container rootfs from Debian's busybox-static, with no
# network: the static busybox binary, a symlink for every applet it lists, users and groups.
# It is idempotent: a second run rewrites the same files. Usage: build-rootfs.sh [target-dir]
set -euo pipefail

TARGET=${1:-/var/lib/arbor/rootfs/busybox}
BUSYBOX=${BUSYBOX:-/bin/busybox}

if [ ! -x "$BUSYBOX" ]; then
  echo "build-rootfs: $BUSYBOX not found: apt-get install busybox-static" >&2
  exit 1
fi
# A dynamically linked busybox would not run inside a container without host libraries.
if ! LC_ALL=C file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' && ldd "$BUSYBOX" >/dev/null 2>&1; then
  echo "build-rootfs: $BUSYBOX is dynamically linked: apt-get install busybox-static" >&2
  exit 1
fi

mkdir -p "$TARGET"
cd "$TARGET"
mkdir -p bin sbin usr/bin usr/sbin etc root home/vcap tmp dev proc sys var/tmp
install -m 0755 "$BUSYBOX" bin/busybox

# every applet at the path busybox installs it (/bin, /sbin, /usr/bin, /usr/sbin)
"$BUSYBOX" --list-full | while read -r applet; do
  [ "$applet" = bin/busybox ] && continue
  # bin/cat -> busybox, usr/bin/env -> ../../bin/busybox
  slashes=${applet//[^\/]/}
  up=""
  for ((i = 1; i < ${#slashes}; i++)); do up="../$up"; done
  if [ ${#slashes} -eq 1 ] && [ "${applet%%/*}" = bin ]; then link=busybox; else link="../${up}bin/busybox"; fi
  [ "$(readlink "$applet" 2>/dev/null)" = "$link" ] || ln -sfn "$link" "$applet"
done

# and every applet in /bin too, as busybox images have them: a PATH of /bin finds them all
for applet in $("$BUSYBOX" --list); do
  [ -e "bin/$applet" ] || [ -L "bin/$applet" ] || ln -s busybox "bin/$applet"
done

cat >etc/passwd <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
vcap:x:1000:1000:vcap:/home/vcap:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >etc/group <<'GROUP'
root:x:0:
tty:x:5:
vcap:x:1000:
nogroup:x:65534:
GROUP
chmod 0644 etc/passwd etc/group
: >etc/hostname
[ -e etc/hosts ] || printf '127.0.0.1 localhost\n::1 localhost\n' >etc/hosts
[ -e etc/resolv.conf ] || : >etc/resolv.conf

chown 0:0 root && chmod 0700 root
chown 1000:1000 home/vcap && chmod 0755 home/vcap
chmod 1777 tmp var/tmp
chmod 0755 dev proc sys
echo "build-rootfs: $TARGET ready ($("$BUSYBOX" --list | wc -l) applets)"
