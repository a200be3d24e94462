import type { Backend, Logger } from '@arbor/core';
import { mergeConfig } from './arbor-config';
import { logContainerCapacity } from './log-container-capacity';

function recordingLogger(): Logger & { events: Array<{ level: string; event: string; data: Record<string, unknown> }> } {
  const events: Array<{ level: string; event: string; data: Record<string, unknown> }> = [];
  const logger = {
    events,
    debug: (event: string, data: Record<string, unknown> = {}) => void events.push({ level: 'debug', event, data }),
    info: (event: string, data: Record<string, unknown> = {}) => void events.push({ level: 'info', event, data }),
    error: (event: string, data: Record<string, unknown> = {}) => void events.push({ level: 'error', event, data }),
    child: () => logger,
  };
  return logger;
}

/** backendWith answers Capacity as a Gardener over a /22 pool does: 256 unless capped lower. */
const backendWith = (maxContainers: number): Backend =>
  ({ capacity: async () => ({ memoryInBytes: 1, diskInBytes: 1, schedulableDiskInBytes: 1, maxContainers }) }) as unknown as Backend;

describe('logContainerCapacity', () => {
  it('says how many containers the default pool holds', async () => {
    const logger = recordingLogger();
    await logContainerCapacity(mergeConfig({}), backendWith(256), logger);
    expect(logger.events).toEqual([{ level: 'info', event: 'container-capacity', data: { maxContainers: 256, networkPool: '10.254.0.0/22' } }]);
  });

  it('says, at error level, when maxContainers asks for more than the pool holds, and which pool would', async () => {
    const logger = recordingLogger();
    await logContainerCapacity(mergeConfig({ maxContainers: 1000 }), backendWith(256), logger);
    expect(logger.events).toHaveLength(1);
    const [line] = logger.events;
    expect(line).toMatchObject({ level: 'error', event: 'max-containers-above-capacity', data: { maxContainers: 1000, effective: 256 } });
    expect(line?.data['note']).toMatch(/lowered to 256.*10\.254\.0\.0\/22.*a \/20 \(--network-pool, like 10\.254\.0\.0\/20\) holds 1024/);
  });

  it('is quiet about a cap the pool holds', async () => {
    const logger = recordingLogger();
    await logContainerCapacity(mergeConfig({ maxContainers: 100, networkPool: '10.254.0.0/20' }), backendWith(100), logger);
    expect(logger.events.map((e) => e.level)).toEqual(['info']);
  });
});
