import { PassThrough } from 'node:stream';
import { silentLogger } from '@arbor/core';
import { DEFAULT_CONFIG, mergeConfig } from './arbor-config';
import { backends } from './backends';
import { composeArbordBackend } from './composition-root';
import { configFromEnv, configFromFlags, parseArbordArgs } from './load-config';

/** runSh runs `sh -c script` in a fresh container of arbord's fake backend composed for config. */
async function runSh(fakeShell: boolean, script: string): Promise<{ code: number; out: string }> {
  const { backend } = await composeArbordBackend(mergeConfig({ backend: 'fake', fakeShell }), silentLogger, backends);
  await backend.start();
  try {
    const container = await backend.create({});
    let out = '';
    const sink = new PassThrough().on('data', (d: Buffer) => (out += d.toString()));
    const p = await container.run({ path: 'sh', args: ['-c', script] }, { stdout: sink, stderr: sink });
    return { code: await p.wait(), out };
  } finally {
    await backend.stop();
  }
}

describe('fakeShell', () => {
  test('is on by default and read from YAML keys, ARBOR_FAKE_SHELL and --[no-]fake-shell', () => {
    expect(DEFAULT_CONFIG.fakeShell).toBe(true);
    expect(configFromEnv({ ARBOR_FAKE_SHELL: 'false' }).fakeShell).toBe(false);
    expect(configFromFlags(parseArbordArgs(['--no-fake-shell'])).fakeShell).toBe(false);
    expect(configFromFlags(parseArbordArgs(['--fake-shell'])).fakeShell).toBe(true);
  });

  test("gives the fake backend's containers the demo shell, or probes only when off", async () => {
    expect(await runSh(true, 'echo hi | tr a-z A-Z')).toEqual({ code: 0, out: 'HI\n' });
    const off = await runSh(false, 'echo hi');
    expect(off.code).toBe(127);
    expect(off.out).toMatch(/^sh: the fake backend runs probes .* only/);
  });
});
