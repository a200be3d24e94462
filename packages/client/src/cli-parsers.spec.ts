import { parseBindMount, parseDuration, parseIpRange, parsePortMapping, parsePortRange, parseRlimits, parseSize } from './cli-parsers';

describe('CLI value parsers', () => {
  test.each<[string, number]>([
    ['1024', 1024],
    ['64K', 64 * 1024],
    ['512M', 512 * 1024 ** 2],
    ['1.5G', 1.5 * 1024 ** 3],
    ['2GiB', 2 * 1024 ** 3],
    ['10mb', 10 * 1024 ** 2],
  ])('size %s is %i bytes', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  test.each<[string, number]>([
    ['1500', 1500],
    ['250ms', 250],
    ['10s', 10_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
  ])('duration %s is %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  test.each(['', '-1', '12X', 'lots'])('%j is neither a size nor a duration', (text) => {
    expect(() => parseSize(text)).toThrow(/is not a size/);
    expect(() => parseDuration(text)).toThrow(/is not a duration/);
  });

  test('bind mounts are read-only unless :rw', () => {
    expect(parseBindMount('/srv:/data')).toEqual({ srcPath: '/srv', dstPath: '/data', mode: 'ro', origin: 'host' });
    expect(parseBindMount('/srv:/data:rw')).toMatchObject({ mode: 'rw' });
    expect(() => parseBindMount('/srv:/data:rx')).toThrow(/must look like/);
  });

  test('a bind mount may ask for idmap, beside ro or rw, once each', () => {
    expect(parseBindMount('/srv:/data:rw,idmap')).toEqual({ srcPath: '/srv', dstPath: '/data', mode: 'rw', origin: 'host', idmap: true });
    expect(parseBindMount('/srv:/data:idmap')).toEqual({ srcPath: '/srv', dstPath: '/data', mode: 'ro', origin: 'host', idmap: true });
    expect(parseBindMount('/srv:/data:idmap,ro')).toMatchObject({ mode: 'ro', idmap: true });
    for (const bad of ['/srv:/data:', '/srv:/data:ro,rw', '/srv:/data:idmap,idmap', '/srv:/data:rw,', '/srv:/data:rw,idmapped']) {
      expect(() => parseBindMount(bad)).toThrow(/must look like/);
    }
  });

  test('ports, ranges and rlimits', () => {
    expect(parsePortMapping('0:8080')).toEqual({ hostPort: 0, containerPort: 8080 });
    expect(() => parsePortMapping('8080')).toThrow(/hostPort:containerPort/);
    expect(() => parsePortMapping('1:70000')).toThrow(/not a port/);
    expect(parsePortRange('80')).toEqual({ start: 80, end: 80 });
    expect(parsePortRange('8000-8080')).toEqual({ start: 8000, end: 8080 });
    expect(parseIpRange('10.0.0.1')).toEqual({ start: '10.0.0.1', end: '10.0.0.1' });
    expect(parseIpRange('10.0.0.1-10.0.0.9')).toEqual({ start: '10.0.0.1', end: '10.0.0.9' });
    expect(parseRlimits(['nofile=1024', 'core=0'])).toEqual({ nofile: 1024, core: 0 });
    expect(() => parseRlimits(['files=1'])).toThrow(/unknown rlimit 'files'/);
  });
});
