import { FakeFilesystem, ROOT } from './fake-filesystem';

/** BUSYBOX_MAGIC starts the fake /bin/busybox, as \x7fELF starts the real one. */
export const BUSYBOX_MAGIC = '\x7fELF';

/**
 * BUSYBOX_APPLETS are the commands of the default rootfs's /bin, each a link to /bin/busybox:
 * what a ProgramRunner is asked for by name.
 */
export const BUSYBOX_APPLETS: readonly string[] = (
  '[ basename busybox cat chmod cp cut dd dirname echo env false grep head hostname id kill ln ls mkdir mv ' +
  'printf pwd rm rmdir seq sh sleep sort stty tail tee test touch tr true wc whoami yes'
).split(' ');

/** The users of the default rootfs; the real backends' default rootfs has the same three. */
const PASSWD = ['root:x:0:0:root:/root:/bin/sh', 'vcap:x:1000:1000:vcap:/home/vcap:/bin/sh', 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false'];
const GROUP = ['root:x:0:', 'vcap:x:1000:', 'nogroup:x:65534:'];

/**
 * buildDefaultRootfs makes the fake's default image: a busybox-like tree where every
 * command in /bin is a hard link to /bin/busybox (as in the busybox image), /etc/passwd
 * with root, vcap and nobody, their homes, a world-writable sticky /tmp and /dev/null,
 * /dev/zero and /dev/urandom.
 */
export function buildDefaultRootfs(applets: readonly string[], now: () => number = Date.now): FakeFilesystem {
  const fs = new FakeFilesystem(now);
  const vcap = { uid: 1000, gid: 1000 };
  for (const dir of ['/bin', '/dev', '/etc', '/home', '/usr', '/usr/bin', '/var']) fs.mkdir(dir, 0o755);
  fs.mkdir('/root', 0o700);
  fs.mkdir('/tmp', 0o1777);
  fs.mkdir('/home/vcap', 0o755);
  fs.chown(fs.resolve('/home/vcap').inode, vcap.uid, vcap.gid);

  const busybox = fs.writeFile('/bin/busybox', `${BUSYBOX_MAGIC} arbor fake busybox: runs the applet its name says\n`, { mode: 0o755 });
  for (const name of applets) {
    if (name !== 'busybox') fs.link(busybox, `/bin/${name}`, { cred: ROOT });
  }
  fs.writeFile('/etc/passwd', PASSWD.join('\n') + '\n', { mode: 0o644 });
  fs.writeFile('/etc/group', GROUP.join('\n') + '\n', { mode: 0o644 });
  fs.mknod('/dev/null', 'null', 0o666);
  fs.mknod('/dev/zero', 'zero', 0o666);
  fs.mknod('/dev/urandom', 'urandom', 0o666);
  fs.mknod('/dev/random', 'urandom', 0o666);
  return fs;
}
