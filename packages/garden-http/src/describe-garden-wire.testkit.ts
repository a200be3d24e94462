// The Garden wire suite: every route, every error type and status, and the hijack edge
// cases, spoken as raw bytes over node:net. One function, called per backend and per
// transport (like describeBackendContract): the fake in-process, linux and runc behind a
// real arbord started with --garden-listen.
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import type { ProcessConn, WireTarget } from './wire.testkit';
import { attach, attachOutput, call, finishProcess, run, runToEnd } from './wire.testkit';

export interface WireSetup {
  target: WireTarget;
  /** close stops the server (and destroys what is left). */
  close(): Promise<void>;
}

export interface WireCapabilities {
  /** unattachedWaitMs is the server's wait before it discards output nobody attached to. */
  unattachedWaitMs: number;
  /**
   * waitsOutUnattachedOutput runs the test that waits unattachedWaitMs for output nobody
   * attached to (default true): the front's own bound, the same over every backend, so one
   * arbord run of it is enough where the wait is arbord's 10 s.
   */
  waitsOutUnattachedOutput?: boolean;
}

async function packTar(entries: { name: string; content: string }[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(Buffer.from(c as Uint8Array));
  })();
  for (const e of entries) pack.entry({ name: e.name, mode: 0o644, mtime: new Date(1_700_000_000_000) }, e.content);
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function readTar(bytes: Buffer): Promise<Map<string, string>> {
  const extract = tar.extract();
  const out = new Map<string, string>();
  extract.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => {
      chunks.push(c as Buffer);
    });
    stream.on('end', () => {
      out.set(header.name, Buffer.concat(chunks).toString('utf8'));
      next();
    });
  });
  const finished = new Promise<void>((resolve, reject) => {
    extract.on('finish', () => resolve());
    extract.on('error', reject);
  });
  Readable.from([bytes]).pipe(extract);
  await finished;
  return out;
}

const sh = (script: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ path: 'sh', args: ['-c', script], ...extra });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function describeGardenWire(name: string, setup: () => Promise<WireSetup>, caps: WireCapabilities): void {
  describe(`Garden HTTP wire: ${name}`, () => {
    jest.setTimeout(60_000);
    let s: WireSetup;
    let t: WireTarget;
    let n = 0;
    const handles: string[] = [];
    const fresh = (): string => `gw-${process.pid}-${Date.now().toString(36)}-${++n}`;
    const create = async (spec: Record<string, unknown> = {}): Promise<string> => {
      const handle = (spec['handle'] as string | undefined) ?? fresh();
      const res = await call(t, 'POST', '/containers', { body: { handle, ...spec } });
      expect(res.status).toBe(200);
      handles.push(handle);
      return handle;
    };

    beforeAll(async () => {
      s = await setup();
      t = s.target;
    });
    afterAll(async () => {
      for (const h of handles) await call(t, 'DELETE', `/containers/${h}`).catch(() => undefined);
      await s?.close();
    });

    describe('plain routes', () => {
      it('Ping answers {} and a newline, as application/json', async () => {
        const res = await call(t, 'GET', '/ping');
        expect(res.status).toBe(200);
        expect(res.body.toString()).toBe('{}\n');
        expect(res.headers.get('content-type')).toBe('application/json');
      });

      it("Capacity uses Garden's snake_case names", async () => {
        const res = await call(t, 'GET', '/capacity');
        expect(res.status).toBe(200);
        const cap = res.json as Record<string, number>;
        expect(cap['memory_in_bytes']).toBeGreaterThan(0);
        expect(cap['disk_in_bytes']).toBeGreaterThan(0);
        expect(cap['max_containers']).toBeGreaterThan(0);
        for (const key of Object.keys(cap)) expect(['memory_in_bytes', 'disk_in_bytes', 'schedulable_disk_in_bytes', 'max_containers']).toContain(key);
      });

      it('Create answers {"Handle"}; Info shows the spec in Go field names', async () => {
        const handle = fresh();
        const res = await call(t, 'POST', '/containers', {
          body: { handle, properties: { app: 'web', tier: '1' }, env: ['A=1'], grace_time: 0, limits: { memory_limits: { limit_in_bytes: 64 * 1024 * 1024 } } },
        });
        handles.push(handle);
        expect(res.status).toBe(200);
        expect(res.body.toString()).toBe(`{"Handle":"${handle}"}\n`);
        const info = await call(t, 'GET', `/containers/${handle}/info`);
        expect(info.status).toBe(200);
        const j = info.json as Record<string, unknown>;
        expect(Object.keys(j).sort()).toEqual(
          ['ContainerIP', 'ContainerPath', 'Events', 'ExternalIP', 'HostIP', 'MappedPorts', 'ProcessIDs', 'Properties', 'State'].sort(),
        );
        expect(j['State']).toBe('active');
        expect(j['Properties']).toMatchObject({ app: 'web', tier: '1' });
        const mem = await call(t, 'GET', `/containers/${handle}/limits/memory`);
        expect(mem.json).toEqual({ limit_in_bytes: 64 * 1024 * 1024 });
      });

      it("Create with a handle in use is a 500 with Garden's message and an empty Type", async () => {
        const handle = await create();
        const res = await call(t, 'POST', '/containers', { body: { handle } });
        expect(res.status).toBe(500);
        expect(res.json).toEqual({ Type: '', Message: `Handle '${handle}' already in use`, Handle: '', ProcessID: '', Binary: '' });
      });

      it('Create refuses rootfs and image.uri together, as guardian does', async () => {
        const res = await call(t, 'POST', '/containers', { body: { rootfs: '/a', image: { uri: 'docker:///busybox' } } });
        expect(res.status).toBe(500);
        expect((res.json as Record<string, string>)['Message']).toMatch(/Cannot provide both Image.URI and RootFSPath/);
      });

      it('List filters on every query pair; without a filter it lists all', async () => {
        const tag = fresh();
        const a = await create({ properties: { tag, role: 'a' } });
        const b = await create({ properties: { tag, role: 'b' } });
        const both = await call(t, 'GET', `/containers?tag=${tag}`);
        expect((both.json as { Handles: string[] }).Handles.sort()).toEqual([a, b].sort());
        const one = await call(t, 'GET', `/containers?role=b&tag=${tag}`);
        expect(one.json).toEqual({ Handles: [b] });
        const none = await call(t, 'GET', `/containers?tag=${tag}&role=c`);
        expect(none.body.toString()).toBe('{"Handles":[]}\n');
        const all = await call(t, 'GET', '/containers');
        expect((all.json as { Handles: string[] }).Handles).toEqual(expect.arrayContaining([a, b]));
      });

      it('Info of an unknown handle is 404 ContainerNotFoundError with the Handle', async () => {
        const res = await call(t, 'GET', '/containers/no-such-handle/info');
        expect(res.status).toBe(404);
        expect(res.headers.get('content-type')).toBe('application/json');
        expect(res.json).toEqual({
          Type: 'ContainerNotFoundError',
          Message: 'unknown handle: no-such-handle',
          Handle: 'no-such-handle',
          ProcessID: '',
          Binary: '',
        });
      });

      it('BulkInfo and BulkMetrics answer per handle, with Err for the unknown one', async () => {
        const h = await create();
        const info = await call(t, 'GET', `/containers/bulk_info?handles=${h},missing-1`);
        expect(info.status).toBe(200);
        const i = info.json as Record<string, { Info: Record<string, unknown>; Err: unknown }>;
        expect(i[h]?.Err).toBeNull();
        expect(i[h]?.Info['State']).toBe('active');
        expect(i['missing-1']?.Err).toEqual({
          Type: 'ContainerNotFoundError',
          Message: 'unknown handle: missing-1',
          Handle: 'missing-1',
          ProcessID: '',
          Binary: '',
        });
        const metrics = await call(t, 'GET', `/containers/bulk_metrics?handles=${h},missing-2`);
        const m = metrics.json as Record<string, { Metrics: Record<string, unknown>; Err: unknown }>;
        expect(m[h]?.Err).toBeNull();
        expect(Object.keys(m[h]?.Metrics ?? {})).toEqual(expect.arrayContaining(['MemoryStat', 'CPUStat', 'DiskStat', 'NetworkStat', 'PidStat', 'Age']));
        expect((m['missing-2']?.Err as Record<string, string>)['Type']).toBe('ContainerNotFoundError');
        const empty = await call(t, 'GET', '/containers/bulk_info?handles=');
        expect(empty.body.toString()).toBe('{}\n');
      });

      it("Metrics uses Garden's names: snake_case memory keys, Go names elsewhere, Age in ns", async () => {
        const h = await create();
        const res = await call(t, 'GET', `/containers/${h}/metrics`);
        expect(res.status).toBe(200);
        const m = res.json as Record<string, Record<string, number>>;
        expect(Object.keys(m['MemoryStat'] ?? {})).toEqual(expect.arrayContaining(['rss', 'cache', 'total_rss', 'TotalUsageTowardLimit']));
        expect(Object.keys(m['CPUStat'] ?? {})).toEqual(['Usage', 'User', 'System']);
        expect(Object.keys(m['NetworkStat'] ?? {})).toEqual(['RxBytes', 'TxBytes']);
        expect(typeof m['Age']).toBe('number');
      });

      it('Stop {"kill":true} stops; Info says stopped; Destroy twice is {} then 404', async () => {
        const h = await create();
        const stop = await call(t, 'PUT', `/containers/${h}/stop`, { body: { kill: true } });
        expect(stop.status).toBe(200);
        expect(stop.body.toString()).toBe('{}\n');
        expect(((await call(t, 'GET', `/containers/${h}/info`)).json as Record<string, string>)['State']).toBe('stopped');
        const d1 = await call(t, 'DELETE', `/containers/${h}`);
        expect([d1.status, d1.body.toString()]).toEqual([200, '{}\n']);
        const d2 = await call(t, 'DELETE', `/containers/${h}`);
        expect(d2.status).toBe(404);
        expect((d2.json as Record<string, string>)['Type']).toBe('ContainerNotFoundError');
      });

      it('Properties, Property, SetProperty and RemoveProperty', async () => {
        const h = await create({ properties: { a: '1' } });
        const set = await call(t, 'PUT', `/containers/${h}/properties/b%2Fc`, { body: { value: 'two' } });
        expect(set.status).toBe(200);
        expect((await call(t, 'GET', `/containers/${h}/properties`)).json).toMatchObject({ a: '1', 'b/c': 'two' });
        expect((await call(t, 'GET', `/containers/${h}/properties/b%2Fc`)).body.toString()).toBe('{"value":"two"}\n');
        expect((await call(t, 'DELETE', `/containers/${h}/properties/a`)).status).toBe(200);
        const gone = await call(t, 'GET', `/containers/${h}/properties/a`);
        expect(gone.status).toBe(500);
        expect((gone.json as Record<string, string>)['Message']).toMatch(/no property 'a'/);
        const badValue = await call(t, 'PUT', `/containers/${h}/properties/x`, { body: { value: 3 } });
        expect(badValue.status).toBe(500);
        expect((badValue.json as Record<string, string>)['Message']).toMatch(/value: must be a string/);
      });

      it('SetGraceTime takes a bare JSON number of nanoseconds', async () => {
        const h = await create();
        const ok = await call(t, 'PUT', `/containers/${h}/grace_time`, { body: 3600 * 1e9 });
        expect([ok.status, ok.body.toString()]).toEqual([200, '{}\n']);
        const bad = await call(t, 'PUT', `/containers/${h}/grace_time`, { body: '1h' });
        expect(bad.status).toBe(500);
        expect((bad.json as Record<string, string>)['Message']).toMatch(/grace_time/);
      });

      it("Current*Limits answer Garden's limit objects (omitempty: {} when unlimited)", async () => {
        const h = await create({ limits: { cpu_limits: { weight: 512 }, pid_limits: { max: 100 } } });
        expect((await call(t, 'GET', `/containers/${h}/limits/cpu`)).json).toEqual({ weight: 512, limit_in_shares: 512 });
        expect((await call(t, 'GET', `/containers/${h}/limits/bandwidth`)).body.toString()).toBe('{}\n');
        expect((await call(t, 'GET', `/containers/${h}/limits/disk`)).status).toBe(200);
        const legacy = await create({ limits: { cpu_limits: { limit_in_shares: 256 } } });
        expect((await call(t, 'GET', `/containers/${legacy}/limits/cpu`)).json).toEqual({ weight: 256, limit_in_shares: 256 });
      });

      it('NetIn answers the mapping; NetOut and BulkNetOut answer {}; bad rules are 500', async () => {
        const h = await create();
        const netIn = await call(t, 'POST', `/containers/${h}/net/in`, { body: { handle: h, host_port: 0, container_port: 8080 } });
        expect(netIn.status).toBe(200);
        const mapping = netIn.json as Record<string, number>;
        expect(mapping['container_port']).toBe(8080);
        expect(mapping['host_port']).toBeGreaterThan(0);
        expect((await call(t, 'GET', `/containers/${h}/info`)).json).toMatchObject({ MappedPorts: [{ HostPort: mapping['host_port'], ContainerPort: 8080 }] });
        const rule = { protocol: 1, networks: [{ start: '10.0.0.1', end: '10.0.0.255' }], ports: [{ start: 80, end: 443 }], log: false };
        expect((await call(t, 'POST', `/containers/${h}/net/out`, { body: rule })).body.toString()).toBe('{}\n');
        expect((await call(t, 'POST', `/containers/${h}/net/out/bulk`, { body: [rule, { protocol: 3, icmps: { type: 8 } }] })).status).toBe(200);
        const bad = await call(t, 'POST', `/containers/${h}/net/out`, { body: { protocol: 9 } });
        expect(bad.status).toBe(500);
        expect((bad.json as Record<string, string>)['Message']).toMatch(/protocol/);
        const missing = await call(t, 'POST', '/containers/nope/net/out', { body: rule });
        expect(missing.status).toBe(404);
      });

      it('StreamIn takes a chunked raw tar; StreamOut answers one; a missing source is a JSON error', async () => {
        const h = await create();
        const tarBytes = await packTar([
          { name: 'wire/a.txt', content: 'alpha\n' },
          { name: 'wire/b.txt', content: 'x'.repeat(100_000) },
        ]);
        const put = await call(t, 'PUT', `/containers/${h}/files?user=root&destination=%2Ftmp`, {
          body: tarBytes,
          contentType: 'application/x-tar',
          chunked: true,
        });
        expect([put.status, put.body.toString()]).toEqual([200, '{}\n']);
        const get = await call(t, 'GET', `/containers/${h}/files?user=root&source=%2Ftmp%2Fwire`);
        expect(get.status).toBe(200);
        const entries = await readTar(get.body);
        expect(entries.get('wire/a.txt')).toBe('alpha\n');
        expect(entries.get('wire/b.txt')?.length).toBe(100_000);
        const missing = await call(t, 'GET', `/containers/${h}/files?user=root&source=%2Fno%2Fsuch`);
        expect(missing.status).toBe(500);
        expect(missing.headers.get('content-type')).toBe('application/json');
        const truncated = await call(t, 'PUT', `/containers/${h}/files?destination=%2Ftmp`, {
          body: tarBytes.subarray(0, 700),
          contentType: 'application/x-tar',
        });
        expect(truncated.status).toBe(500);
      });
    });

    describe('bad input', () => {
      it("invalid JSON is a 500 with Garden's error object, and the server keeps serving", async () => {
        const res = await call(t, 'POST', '/containers', { body: Buffer.from('{"handle": '), contentType: 'application/json' });
        expect(res.status).toBe(500);
        expect(res.json).toMatchObject({ Type: '', Message: expect.stringMatching(/not valid JSON/) as unknown });
        expect((await call(t, 'GET', '/ping')).status).toBe(200);
      });

      it('wrong JSON types name the field', async () => {
        const res = await call(t, 'POST', '/containers', { body: { limits: { memory_limits: { limit_in_bytes: '1G' } } } });
        expect(res.status).toBe(500);
        expect((res.json as Record<string, string>)['Message']).toMatch(/limits\.memory_limits\.limit_in_bytes/);
        const arr = await call(t, 'POST', '/containers', { body: [1, 2] });
        expect(arr.status).toBe(500);
      });

      it("a JSON body over 1 MiB is refused with 413 and Garden's error object", async () => {
        const res = await call(t, 'POST', '/containers', { body: { env: ['X='.padEnd(1_100_000, 'x')] } });
        expect(res.status).toBe(413);
        expect((res.json as Record<string, string>)['Type']).toBe('');
      });

      it('an unknown route is a 404 with an error object; a malformed request is a 400', async () => {
        const res = await call(t, 'GET', '/nope');
        expect(res.status).toBe(404);
        expect((res.json as Record<string, string>)['Message']).toMatch(/no such route/);
        const method = await call(t, 'PATCH', '/ping');
        expect(method.status).toBe(404);
        const bad = await call(t, 'GET', '/', { raw: Buffer.from('NOT HTTP\r\n\r\n') });
        expect(bad.status).toBe(400);
        expect((await call(t, 'GET', '/ping')).status).toBe(200);
      });

      it('a ProcessSpec asking for a process image is refused before anything runs', async () => {
        const h = await create();
        const conn = await run(t, h, { path: 'true', image: { uri: 'docker:///busybox' } });
        expect(conn.response.status).toBe(500);
        expect(conn.first['Message']).toMatch(/peas/);
      });
    });

    describe('Run and Attach', () => {
      let h: string;
      beforeAll(async () => {
        h = await create();
      });

      it('Run answers 201 with Go\'s hijack head, then {"process_id","stream_id"}', async () => {
        const conn = await run(t, h, sh('exit 0'));
        expect(conn.response.head).toMatch(
          /^HTTP\/1\.1 201 Created\r\nContent-Type: application\/json\r\nDate: [A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT\r\nTransfer-Encoding: chunked$/,
        );
        expect(Object.keys(conn.first)).toEqual(['process_id', 'stream_id']);
        expect(conn.first['stream_id']).toMatch(/^\d+$/);
        const result = await finishProcess(t, h, conn);
        expect(result.exit).toEqual({ process_id: conn.first['process_id'], exit_status: 0 });
      });

      it('delivers stdout and stderr whole, before the exit status', async () => {
        const result = await runToEnd(t, h, sh('echo out; echo err >&2; exit 3'));
        expect(result).toMatchObject({ stdout: 'out\n', stderr: 'err\n', outputEndedFirst: true });
        expect(result.exit?.['exit_status']).toBe(3);
      });

      it('takes a process id from the spec; a running duplicate is refused', async () => {
        const id = `p-${fresh()}`;
        const first = await run(t, h, sh('sleep 2', { id }));
        expect(first.first['process_id']).toBe(id);
        const dup = await run(t, h, sh('true', { id }));
        expect(dup.response.status).toBe(500);
        // Garden's own words, which its clients match on
        expect(dup.first['Message']).toMatch(/process ID '.*' already in use/);
        expect((await finishProcess(t, h, first)).exit?.['exit_status']).toBe(0);
      });

      it('carries stdin as JSON strings and stdin close as a source without data', async () => {
        const result = await runToEnd(t, h, { path: 'cat' }, 'hello\nwörld\n');
        expect(result.stdout).toBe('hello\nwörld\n');
        expect(result.exit?.['exit_status']).toBe(0);
      });

      it('stdin EOF before the output ends: the rest of the output still comes, then the status', async () => {
        const result = await runToEnd(t, h, sh('cat; sleep 0.3; echo after-eof; exit 5'), 'in\n');
        expect(result.stdout).toBe('in\nafter-eof\n');
        expect(result.exit?.['exit_status']).toBe(5);
      });

      it('a missing executable is 500 ExecutableNotFoundError before the hijack', async () => {
        const conn = await run(t, h, { path: '/no/such/binary' });
        expect(conn.response.status).toBe(500);
        expect(conn.first['Type']).toBe('ExecutableNotFoundError');
      });

      it('Run in an unknown container is 404 ContainerNotFoundError', async () => {
        const conn = await run(t, 'no-such-container', { path: 'true' });
        expect(conn.response.status).toBe(404);
        expect(conn.first).toMatchObject({ Type: 'ContainerNotFoundError', Handle: 'no-such-container' });
      });

      it('signal 1 kills (137), signal 0 terminates (143)', async () => {
        for (const [signal, status] of [
          [1, 137],
          [0, 143],
        ] as const) {
          const conn = await run(t, h, sh('echo ready; sleep 30'));
          const pid = String(conn.first['process_id']);
          const out = await attachOutput(t, h, pid, String(conn.first['stream_id']), 'stdout');
          await out.reader.until('ready\n');
          conn.send({ process_id: pid, signal });
          expect(await conn.reader.line()).toEqual({ process_id: pid, exit_status: status });
        }
      });

      it('a tty resize message reaches the terminal', async () => {
        const conn = await run(t, h, sh('read x; stty size', { tty: { window_size: { columns: 80, rows: 24 } } }));
        const pid = String(conn.first['process_id']);
        conn.send({ process_id: pid, tty: { window_size: { columns: 123, rows: 45 } } });
        await sleep(200);
        const result = await finishProcess(t, h, conn, 'go\n');
        expect(result.stdout).toContain('45 123');
        expect(result.exit?.['exit_status']).toBe(0);
      });

      it('a client that closes mid-stream detaches; Attach later gets the rest and the status', async () => {
        const conn = await run(t, h, sh('echo one; sleep 1; echo two; exit 7'));
        const pid = String(conn.first['process_id']);
        const out = await attachOutput(t, h, pid, String(conn.first['stream_id']), 'stdout');
        await out.reader.until('one\n');
        conn.reader.socket.destroy();
        // the detached stream's stdout connection ends
        await out.reader.rest();
        const again = await attach(t, h, pid);
        expect(again.response.status).toBe(200);
        expect(again.response.head).toMatch(/^HTTP\/1\.1 200 OK\r\nContent-Type: application\/json\r\n/);
        expect(again.first['process_id']).toBe(pid);
        expect(again.first['stream_id']).not.toBe(conn.first['stream_id']);
        const result = await finishProcess(t, h, again);
        expect(result.stdout).toBe('two\n');
        expect(result.exit).toEqual({ process_id: pid, exit_status: 7 });
      });

      it('several attachers each get the output and the exit status', async () => {
        const conn = await run(t, h, sh('sleep 1; echo shared; exit 4'));
        const pid = String(conn.first['process_id']);
        const a = await attach(t, h, pid);
        const b = await attach(t, h, pid);
        const results = await Promise.all([finishProcess(t, h, conn), finishProcess(t, h, a), finishProcess(t, h, b)]);
        for (const r of results) expect(r).toMatchObject({ stdout: 'shared\n', exit: { process_id: pid, exit_status: 4 } });
      });

      it('two readers of one stream id both get every byte', async () => {
        const conn = await run(t, h, sh('sleep 0.5; echo twice'));
        const pid = String(conn.first['process_id']);
        const sid = String(conn.first['stream_id']);
        const r1 = await attachOutput(t, h, pid, sid, 'stdout');
        const r2 = await attachOutput(t, h, pid, sid, 'stdout');
        expect((await conn.reader.line())?.['exit_status']).toBe(0);
        expect((await r1.reader.rest()).toString()).toBe('twice\n');
        expect((await r2.reader.rest()).toString()).toBe('twice\n');
      });

      it('keeps the output for a late attacher, after the exit status', async () => {
        const conn = await run(t, h, sh('echo early; echo bird >&2'));
        const pid = String(conn.first['process_id']);
        const sid = String(conn.first['stream_id']);
        expect(await conn.reader.line()).toEqual({ process_id: pid, exit_status: 0 });
        const out = await attachOutput(t, h, pid, sid, 'stdout');
        const err = await attachOutput(t, h, pid, sid, 'stderr');
        expect(out.response.head).toMatch(/^HTTP\/1\.1 200 OK\r\nDate: .* GMT\r\nTransfer-Encoding: chunked$/);
        expect((await out.reader.rest()).toString()).toBe('early\n');
        expect((await err.reader.rest()).toString()).toBe('bird\n');
      });

      it('an unknown stream id is a 404 error object, not an empty stream', async () => {
        const out = await attachOutput(t, h, 'some-pid', '999999', 'stdout');
        expect(out.response.status).toBe(404);
        expect((await out.reader.errorBody(out.response))['Message']).toMatch(/unknown stream id 999999/);
      });

      it('Attach to an unknown process is 404 ProcessNotFoundError with the ProcessID', async () => {
        const conn = await attach(t, h, 'no-such-process');
        expect(conn.response.status).toBe(404);
        expect(conn.first).toEqual({
          Type: 'ProcessNotFoundError',
          Message: 'unknown process: no-such-process',
          Handle: '',
          ProcessID: 'no-such-process',
          Binary: '',
        });
      });

      it('Attach to an exited process: its exit status while it is kept, ProcessNotFoundError after', async () => {
        const done = await runToEnd(t, h, sh('exit 9'));
        const pid = String(done.exit?.['process_id']);
        const conn = await attach(t, h, pid);
        if (conn.response.status === 200) {
          expect(await conn.reader.line()).toEqual({ process_id: pid, exit_status: 9 });
        } else {
          expect(conn.response.status).toBe(404);
          expect(conn.first['Type']).toBe('ProcessNotFoundError');
        }
      });

      it('a slow stdout reader loses nothing: the process waits for it (back-pressure)', async () => {
        const size = 4 * 1024 * 1024;
        const conn = await run(t, h, sh(`head -c ${size} /dev/zero | tr '\\0' x`));
        const pid = String(conn.first['process_id']);
        const out = await attachOutput(t, h, pid, String(conn.first['stream_id']), 'stdout');
        out.reader.socket.pause();
        let exitSeen = false;
        const exit = conn.reader.line().then((line) => {
          exitSeen = true;
          return line;
        });
        await sleep(1500);
        // 4 MiB cannot fit in the socket buffers and the server's bound: the status waits
        expect(exitSeen).toBe(false);
        out.reader.socket.resume();
        const bytes = await out.reader.rest();
        expect(bytes.length).toBe(size);
        expect(bytes.every((b) => b === 0x78)).toBe(true);
        expect(await exit).toEqual({ process_id: pid, exit_status: 0 });
      });

      (caps.waitsOutUnattachedOutput === false ? it.skip : it)('output nobody attaches to is bounded: the process is not held forever', async () => {
        const conn = await run(t, h, sh('head -c 3000000 /dev/zero; echo done >&2'));
        const pid = String(conn.first['process_id']);
        const err = await attachOutput(t, h, pid, String(conn.first['stream_id']), 'stderr');
        const started = Date.now();
        expect(await conn.reader.line()).toEqual({ process_id: pid, exit_status: 0 });
        expect(Date.now() - started).toBeLessThan(caps.unattachedWaitMs + 10_000);
        expect((await err.reader.rest()).toString()).toBe('done\n');
      });

      it('a stdout reader that disconnects mid-stream does not wedge the process', async () => {
        const conn = await run(t, h, sh('head -c 3000000 /dev/zero; exit 2'));
        const pid = String(conn.first['process_id']);
        const out = await attachOutput(t, h, pid, String(conn.first['stream_id']), 'stdout');
        await out.reader.until('\0');
        out.reader.socket.destroy();
        expect(await conn.reader.line()).toEqual({ process_id: pid, exit_status: 2 });
      });

      it('a garbage line on the main connection detaches like a closed connection', async () => {
        const conn: ProcessConn = await run(t, h, sh('sleep 0.5; exit 6'));
        const pid = String(conn.first['process_id']);
        conn.reader.socket.write('not json\n');
        expect(await conn.reader.line()).toBeNull();
        const again = await attach(t, h, pid);
        if (again.response.status === 200) expect((await finishProcess(t, h, again)).exit?.['exit_status']).toBe(6);
      });
    });
  });
}
