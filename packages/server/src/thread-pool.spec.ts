import { ARBORD_THREAD_POOL_SIZE, sizeThreadPool } from './thread-pool';

describe('sizeThreadPool', () => {
  const saved = process.env['UV_THREADPOOL_SIZE'];
  afterEach(() => {
    if (saved === undefined) delete process.env['UV_THREADPOOL_SIZE'];
    else process.env['UV_THREADPOOL_SIZE'] = saved;
  });

  it("gives arbord's process 16 libuv threads", () => {
    delete process.env['UV_THREADPOOL_SIZE'];
    sizeThreadPool();
    expect(process.env['UV_THREADPOOL_SIZE']).toBe(String(ARBORD_THREAD_POOL_SIZE));
  });

  it('keeps a size the operator set', () => {
    process.env['UV_THREADPOOL_SIZE'] = '64';
    sizeThreadPool();
    expect(process.env['UV_THREADPOOL_SIZE']).toBe('64');
  });
});
