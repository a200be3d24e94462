import { sleep } from '@arbor/testkit';

/** waitForOutput resolves once the collector holds exactly text, like a user watching for "ready". */
export async function waitForOutput(collector: { text(): string }, text: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (collector.text() !== text) {
    if (Date.now() > deadline) {
      throw new Error(`expected output ${JSON.stringify(text)}, got ${JSON.stringify(collector.text())}`);
    }
    await sleep(20);
  }
}
