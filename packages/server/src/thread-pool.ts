/** ARBORD_THREAD_POOL_SIZE: libuv threads for fs calls (Node's default is 4). */
export const ARBORD_THREAD_POOL_SIZE = 16;

/**
 * sizeThreadPool gives arbord's process more libuv threads unless UV_THREADPOOL_SIZE is set.
 * Every fs call runs on that pool, and one create or destroy issues many at once (cgroup
 * files, the depot, /proc polls); with 4 threads they queue (about 10 ms per cycle here).
 * libuv reads the variable when the pool first starts: call this before any async fs call.
 */
export function sizeThreadPool(): void {
  process.env['UV_THREADPOOL_SIZE'] ??= String(ARBORD_THREAD_POOL_SIZE);
}
