import { Collector } from './collector';

describe('Collector', () => {
  it('keeps every chunk written, split anywhere, as one text', async () => {
    const out = new Collector();
    const bytes = Buffer.from('héllo\n');
    out.write(bytes.subarray(0, 2));
    out.write(bytes.subarray(2));
    await new Promise<void>((resolve) => out.end(resolve));
    expect(out.text()).toBe('héllo\n');
  });
});
