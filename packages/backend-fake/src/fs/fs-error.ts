// strerror texts as glibc prints them (busybox-static on Debian is glibc-linked).
const strerrors = {
  ENOENT: 'No such file or directory',
  ENOTDIR: 'Not a directory',
  EISDIR: 'Is a directory',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  EEXIST: 'File exists',
  ENOTEMPTY: 'Directory not empty',
  ENOSPC: 'No space left on device',
  ELOOP: 'Too many levels of symbolic links',
  EINVAL: 'Invalid argument',
  EBUSY: 'Device or resource busy',
  EBADF: 'Bad file descriptor',
  EPIPE: 'Broken pipe',
  ENOEXEC: 'Exec format error',
  EAGAIN: 'Resource temporarily unavailable',
} as const;

/** FsErrorCode is the errno a Linux call would fail with, like 'ENOENT'. */
export type FsErrorCode = keyof typeof strerrors;

/** FsError is a failed filesystem call in a fake container, like ENOENT for /tmp/x. */
export class FsError extends Error {
  constructor(
    readonly code: FsErrorCode,
    readonly path: string,
  ) {
    super(`${path}: ${strerrors[code]}`);
    this.name = 'FsError';
  }

  /** strerror is the C library's text for the code, like 'No such file or directory'. */
  get strerror(): string {
    return strerrors[this.code];
  }

  static is(err: unknown, code?: FsErrorCode): err is FsError {
    return err instanceof FsError && (code === undefined || err.code === code);
  }
}
