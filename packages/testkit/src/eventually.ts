/** sleep resolves after ms milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * eventually retries check until it stops throwing, then returns its value; after timeoutMs it
 * throws check's last failure. For state that changes in the background, like a reaped container:
 *   await eventually(async () => expect(await client.containers()).toEqual([]), 5000);
 */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 2000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() >= deadline) throw err;
    }
    await sleep(intervalMs);
  }
}

/**
 * waitFor polls probe until it returns a value other than undefined, like the pid of a process
 * once it runs, and throws 'timed out waiting for <what>' after timeoutMs.
 */
export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(intervalMs);
  }
}
