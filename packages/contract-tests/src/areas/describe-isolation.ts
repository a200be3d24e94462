import type { BackendCapabilities } from '../contract-setup';
import type { ContractContext } from '../contract-context';
import { runToEnd, sh, startProcess } from '../helpers/run-process';

// These need real namespaces: an init as pid 1 and a UTS namespace per container.
export function describeIsolation(ctx: ContractContext, capabilities: BackendCapabilities): void {
  const describeIf = capabilities.isolation ? describe : describe.skip;

  describeIf('isolation (isolation)', () => {
    it('names the host after the last 49 characters of the handle', async () => {
      const handle = `${ctx.unique('host')}-`.padEnd(60, 'h') + 'END';
      const container = await ctx.create({ handle });
      expect((await runToEnd(container, { path: 'hostname' })).stdout).toBe(`${handle.slice(-49)}\n`);
    });

    it('runs an init as pid 1, not the user process', async () => {
      const container = await ctx.create();
      const result = await runToEnd(container, sh('echo $$; test -d /proc/1 && echo has-init'));
      const [pid, init] = result.stdout.split('\n');
      expect(Number(pid)).toBeGreaterThan(1);
      expect(init).toBe('has-init');
    });

    it("does not show one container's processes in another", async () => {
      const [a, b] = await Promise.all([ctx.create(), ctx.create()]);
      await startProcess(a, { path: 'sleep', args: ['123'] });
      const result = await runToEnd(b, sh('cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\\0" " "'));
      expect(result.stdout).not.toContain('sleep 123');
    });

    it('masks /proc/kcore and keeps /sys read-only', async () => {
      const container = await ctx.create();
      const kcore = await runToEnd(container, sh('head -c 1 /proc/kcore | wc -c'));
      expect(kcore.stdout.trim()).toBe('0');
      const sys = await runToEnd(container, sh('mkdir /sys/arbor-test'));
      expect(sys.exitCode).not.toBe(0);
    });
  });
}
