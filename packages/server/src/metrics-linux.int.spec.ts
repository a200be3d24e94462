// arbord's /metrics over the linux backend: per-container numbers come from the real cgroups,
// and the layer store's size from <stateDir>/images. Needs root, the built helpers and the
// default rootfs (scripts/setup.sh).
import { join } from 'node:path';
import { describeIf } from '@arbor/testkit';
import { useLinuxArbord, writeOciImage } from './testing/linux-arbord.testkit';

/** sample is the value of the line 'name{handle="handle"} value', or of 'name value' without a handle. */
function sample(text: string, name: string, handle?: string): number | undefined {
  const prefix = handle === undefined ? `${name} ` : `${name}{handle="${handle}"} `;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(prefix.length));
}

describeIf({ root: true })('arbord /metrics over the linux backend', () => {
  const running = useLinuxArbord('arbord-metrics-linux-', { metricsListen: '127.0.0.1:0' });

  test('a busy container shows real cpu, memory and pids; a pulled image shows in the layer store', async () => {
    const { arbord, dir } = running();
    await writeOciImage(join(dir, 'image'), 'v1', 256 * 1024);
    await arbord.backend.pullImage({ uri: `oci://${dir}/image#v1` });
    const container = await arbord.backend.create({ handle: 'metrics-busy' });
    // some CPU time, then two processes (sh and sleep) that stay
    await container.run({ path: 'sh', args: ['-c', 'i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; sleep 60'] }, {});
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const text = await (await fetch(`http://${arbord.metricsAddress}/metrics`)).text();
    const numbers = {
      cpu: sample(text, 'arbor_container_cpu_usage_seconds_total', 'metrics-busy'),
      memory: sample(text, 'arbor_container_memory_usage_bytes', 'metrics-busy'),
      pids: sample(text, 'arbor_container_pids', 'metrics-busy'),
      processes: sample(text, 'arbor_processes'),
      layerStore: sample(text, 'arbor_layer_store_bytes'),
    };
    console.log('metrics over the linux backend:', numbers);
    expect(numbers.cpu).toBeGreaterThan(0);
    expect(numbers.memory).toBeGreaterThan(0);
    expect(numbers.pids).toBeGreaterThanOrEqual(2);
    expect(numbers.processes).toBe(1);
    expect(numbers.layerStore).toBeGreaterThanOrEqual(256 * 1024);
    expect(text).toMatch(/^arbor_container_phase_duration_seconds_count\{op="create",phase="containerizer",outcome="ok"\} 1$/m);
    expect(text).toMatch(/^arbor_image_pulls_total\{outcome="ok"\} 1$/m);
    await arbord.backend.destroy('metrics-busy');
  }, 60_000);
});
