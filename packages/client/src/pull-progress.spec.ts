import { PassThrough } from 'node:stream';
import type { ImagePullProgress } from '@arbor/core';
import { formatBytes, fraction, PullProgressTracker, PullProgressView, renderBar } from './pull-progress';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;
const MiB = 1024 * 1024;

const ev = (phase: ImagePullProgress['phase'], layer = '', bytesDone = 0, bytesTotal = 0): ImagePullProgress => ({ phase, layer, bytesDone, bytesTotal });

describe('PullProgressTracker', () => {
  it('sums bytes per layer once, counting stored layers as done', () => {
    const t = new PullProgressTracker();
    t.update(ev('resolving'));
    expect(t.totals()).toMatchObject({ phase: 'resolving', layers: 0 });
    t.update(ev('exists', A, 2 * MiB, 2 * MiB));
    t.update(ev('waiting', B, 0, 6 * MiB));
    t.update(ev('downloading', B, 1 * MiB, 6 * MiB));
    t.update(ev('downloading', B, 3 * MiB, 6 * MiB));
    expect(t.totals()).toEqual({ phase: 'downloading', layers: 2, layersReady: 1, bytesDone: 5 * MiB, bytesTotal: 8 * MiB, sizeKnown: true });
    expect(fraction(t.totals())).toBeCloseTo(5 / 8);
    t.update(ev('unpacked', B, 6 * MiB, 6 * MiB));
    expect(t.totals()).toMatchObject({ layersReady: 2, bytesDone: 8 * MiB });
    t.update(ev('committing'));
    expect(t.totals().phase).toBe('committing');
  });

  it('never goes backwards when a late event carries fewer bytes', () => {
    const t = new PullProgressTracker();
    t.update(ev('downloading', A, 300, 1000));
    t.update(ev('downloading', A, 200, 1000));
    expect(t.totals().bytesDone).toBe(300);
  });

  it('falls back to counting layers when a size is unknown', () => {
    const t = new PullProgressTracker();
    t.update(ev('waiting', A, 0, -1));
    t.update(ev('waiting', B, 0, 100));
    t.update(ev('downloading', A, 4000, -1));
    t.update(ev('unpacked', B, 100, 100));
    const totals = t.totals();
    expect(totals).toMatchObject({ sizeKnown: false, bytesDone: 4100, layersReady: 1, layers: 2 });
    expect(fraction(totals)).toBe(0.5);
  });

  it("is whole once 'done' arrives, even for a backend that sent nothing else", () => {
    const t = new PullProgressTracker();
    t.update(ev('done'));
    expect(fraction(t.totals())).toBe(1);
  });
});

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [512, '512 B'],
    [1536, '1.5 KiB'],
    [7 * MiB, '7.0 MiB'],
    [3 * 1024 * MiB, '3.0 GiB'],
  ])('%d -> %s', (bytes, text) => expect(formatBytes(bytes)).toBe(text));
});

describe('renderBar', () => {
  const totals = { phase: 'downloading' as const, layers: 4, layersReady: 1, bytesDone: 2 * MiB, bytesTotal: 8 * MiB, sizeKnown: true };

  it('draws the label, a bar filled to the fraction, percent, bytes and layers', () => {
    const line = renderBar('docker://127.0.0.1:5000/app#v1', totals, 100);
    expect(line).toBe('docker://127.0.0.1:5000/app#v1 [########----------------------]  25% 2.0 MiB/8.0 MiB 1/4 layers');
    expect(line.length).toBeLessThanOrEqual(100);
  });

  it('shortens the label, never the numbers, to fit a narrow terminal', () => {
    const line = renderBar('docker://registry.example.com/some/long/repository#v1', totals, 60);
    expect(line.length).toBeLessThanOrEqual(60);
    expect(line).toMatch(/^….*#v1 \[#+-+\] {2}25% 2\.0 MiB\/8\.0 MiB 1\/4 layers$/);
  });

  it('says resolving and committing', () => {
    expect(renderBar('img', { ...totals, phase: 'resolving' }, 80)).toMatch(/\] resolving$/);
    expect(renderBar('img', { ...totals, phase: 'committing', bytesDone: 8 * MiB }, 80)).toMatch(/\] 100% committing$/);
  });
});

describe('PullProgressView', () => {
  function capture(): { stream: PassThrough; text: () => string } {
    const stream = new PassThrough();
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    return { stream, text: () => Buffer.concat(chunks).toString() };
  }

  it('redraws one line in place on a terminal, at most every redrawMs, ending with a newline', () => {
    const out = capture();
    let now = 0;
    const view = new PullProgressView('img', { stream: out.stream, columns: 80 }, () => now, 100);
    view.onProgress(ev('waiting', A, 0, 1000));
    now = 50;
    view.onProgress(ev('downloading', A, 500, 1000));
    now = 150;
    view.onProgress(ev('downloading', A, 900, 1000));
    view.onProgress(ev('done'));
    view.finish();
    const draws = out.text().split('\r').filter(Boolean);
    expect(draws).toHaveLength(3);
    expect(draws[1]).toContain(' 90% ');
    // eslint-disable-next-line no-control-regex -- the bar must end in the terminal's erase-line escape (ESC [K)
    expect(draws[2]).toMatch(/100% .*\x1b\[K\n$/);
    expect(out.text().endsWith('\n')).toBe(true);
  });

  it('ends a bar cut short by a failure with a newline', () => {
    const out = capture();
    const view = new PullProgressView('img', { stream: out.stream, columns: 80 });
    view.onProgress(ev('resolving'));
    view.finish();
    // eslint-disable-next-line no-control-regex -- the line must end in the terminal's erase-line escape (ESC [K)
    expect(out.text()).toMatch(/resolving\x1b\[K\n$/);
  });

  it('writes plain lines, without download chunks, when not on a terminal', () => {
    const out = capture();
    const view = new PullProgressView('img', { stream: out.stream, columns: undefined });
    view.onProgress(ev('resolving'));
    view.onProgress(ev('waiting', A, 0, 2048));
    view.onProgress(ev('downloading', A, 1024, 2048));
    view.onProgress(ev('unpacked', A, 2048, 2048));
    view.onProgress({ ...ev('done'), image: { id: 'sha256:abc', layers: 1, env: [], user: '', workingDir: '', entrypoint: [], cmd: [] } });
    expect(out.text()).toBe(
      'img: resolving\naaaaaaaaaaaa: waiting (2.0 KiB)\naaaaaaaaaaaa: downloaded, verified and unpacked (2.0 KiB)\nimg: done sha256:abc (1 layers)\n',
    );
  });
});
