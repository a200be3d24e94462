import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CONFIG, mergeConfig, validateConfig } from './arbor-config';
import { configFromEnv, configFromFlags, loadConfig, parseArbordArgs } from './load-config';

describe('userns config', () => {
  test('on by default, with a pool above the /etc/subuid ranges Debian gives users (to 600100000)', () => {
    expect(DEFAULT_CONFIG.userns).toEqual({ enabled: true, base: 1_000_000_000, size: 1_000_000_000, perContainer: 65536 });
    expect(() => validateConfig(DEFAULT_CONFIG, ['linux'])).not.toThrow();
  });

  test('YAML, ARBOR_USERNS_* and --userns-* set it, field by field', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'arbor-userns-config-'));
    try {
      const configPath = join(dir, 'config.yaml');
      await writeFile(configPath, 'userns:\n  enabled: true\n  base: 2000000000\n');
      const config = await loadConfig({ env: { ARBOR_USERNS_SIZE: '131072' }, configPath, flags: configFromFlags({ 'userns-per-container': '65536' }) });
      expect(config.userns).toEqual({ enabled: true, base: 2_000_000_000, size: 131072, perContainer: 65536 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    expect(configFromEnv({ ARBOR_USERNS_ENABLED: 'true' }).userns).toEqual({ enabled: true });
    expect(configFromFlags({ 'userns-base': '3000000000' }).userns).toEqual({ base: 3_000_000_000 });
  });

  test.each([
    [{ base: 0 }, 'userns.base: 0 must be a whole number, 1 or more'],
    [{ perContainer: 1000 }, 'userns.perContainer: 1000 must be 65536 or more'],
    [{ size: 65535 }, 'userns.size: 65535 ids hold no container'],
    [{ base: 4_000_000_000, size: 1_000_000_000 }, 'end past 4294967294, the largest host id'],
  ])('a pool like %j is refused at start: %s', (userns, message) => {
    expect(() => validateConfig(mergeConfig({ userns }), ['linux'])).toThrow(message);
  });

  test('--no-userns-enabled turns the default off on the command line; both ways at once is refused', () => {
    expect(configFromFlags(parseArbordArgs(['--no-userns-enabled'])).userns).toEqual({ enabled: false });
    expect(configFromFlags(parseArbordArgs(['--userns-enabled'])).userns).toEqual({ enabled: true });
    expect(configFromFlags(parseArbordArgs(['--userns-base', '3000000000'])).userns).toEqual({ base: 3_000_000_000 });
    expect(() => parseArbordArgs(['--userns-enabled', '--no-userns-enabled'])).toThrow('--userns-enabled and --no-userns-enabled contradict each other');
    expect(() => parseArbordArgs(['--userns-enabled', 'false'])).toThrow(/positional/i);
  });
});
