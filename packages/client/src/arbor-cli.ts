// fs.promises and stream.promises load their modules when first read: most commands never do
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import { promises as streams } from 'node:stream';
import type { Readable, Writable } from 'node:stream';
import { Argument, Command, CommanderError, Option } from 'commander';
import { arborVersion, toWireError } from '@arbor/core';
import type {
  ArborEvent,
  BulkResult,
  Container,
  ContainerSpec,
  DiskLimits,
  ImageRef,
  NetOutProtocol,
  NetOutRule,
  Process,
  ProcessSpec,
  Signal,
} from '@arbor/core';
import {
  collect,
  parseAddress,
  parseBindMount,
  parseCount,
  parseDuration,
  parseIpRange,
  parsePort,
  parsePortMapping,
  parsePortRange,
  parseProperties,
  parseRlimits,
  parseSize,
} from './cli-parsers';
import { addCommandExamples } from './cli-examples';
import { COMPLETION_SHELLS, completionScript } from './completion';
import type { CompletionShell } from './completion';
import * as load from './cli-modules';
import { DEFAULT_ADDRESS } from './default-address';
import type { GrpcClient, TlsOptions } from './grpc-client';

/** CliStdio is the terminal the CLI talks to; process's own by default. */
export interface CliStdio {
  stdin: NodeJS.ReadStream | Readable;
  stdout: NodeJS.WriteStream | Writable;
  stderr: NodeJS.WriteStream | Writable;
}

interface GlobalOptions {
  address: string;
  /** socket is --socket, already as unix://path; it wins over --address. */
  socket?: string;
  json: boolean;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
}

/** ExitCode carries a process's exit status out of an action. */
class ExitCode {
  constructor(readonly code: number) {}
}

function write(stream: Writable | NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve) => {
    if (!stream.write(text)) stream.once('drain', resolve);
    else resolve();
  });
}

/** flatten turns { memory: { rss: 1 } } into ['memory.rss: 1'] for human output. */
function flatten(value: unknown, prefix = ''): string[] {
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v !== 'object' || v === null)) return [`${prefix}: ${value.join(', ')}`];
    return value.flatMap((v, i) => flatten(v, `${prefix}[${i}]`));
  }
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value);
    if (entries.length === 0) return prefix ? [`${prefix}: -`] : [];
    return entries.flatMap(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k));
  }
  return [`${prefix}: ${String(value)}`];
}

/** eventLine is an event for people and awk: 'time kind handle [process-id exit-code]'. */
function eventLine(event: ArborEvent): string {
  const head = `${new Date(event.timeMs).toISOString()} ${event.kind} ${event.handle}`;
  return event.kind === 'process-exited' ? `${head} ${event.processId ?? ''} ${event.exitCode ?? ''}` : head;
}

/**
 * commandNamed is the command word in argv, like 'ping' in ['--json', '-a', 'host:7777', 'ping'],
 * read with program's own options (those that take a value skip it); undefined when argv asks
 * for the program's help first or names no command.
 */
function commandNamed(program: Command, argv: readonly string[]): string | undefined {
  const takesValue = new Set(program.options.filter((o) => o.required || o.optional).flatMap((o) => [o.short, o.long]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '-h' || arg === '--help' || arg === '--') return undefined;
    if (!arg.startsWith('-')) return arg;
    if (takesValue.has(arg)) i++;
  }
  return undefined;
}

/**
 * createArborCli builds the `arbor` command line. Each action prints its result (plain or
 * --json) and returns; errors propagate to runArborCli, which maps them to exit codes. Given
 * the argv it will parse, it builds only the command argv names, like ping for ['ping']:
 * building all 31 commands and their options is start-up that a short command does not need
 * (issue #15). The program's help, completion (which reads every command) and a word that
 * is no command get them all.
 */
export function createArborCli(stdio: CliStdio, argv?: readonly string[]): Command {
  const program = new Command('arbor');
  const builders: Array<[name: string, build: () => unknown]> = [];
  /** define adds a command to build when createArborCli has seen the program's options. */
  const define = (name: string, build: () => unknown): void => void builders.push([name, build]);

  const globals = (cmd: Command): GlobalOptions => cmd.optsWithGlobals<GlobalOptions>();
  const connect = async (cmd: Command): Promise<GrpcClient> => {
    const g = globals(cmd);
    const address = g.socket ?? parseAddress(g.address);
    const { GrpcClient } = load.grpcClient();
    if (!g.tlsCa && !g.tlsCert && !g.tlsKey) return GrpcClient.connect(address);
    if (!g.tlsCert !== !g.tlsKey) throw new CommanderError(2, 'arbor.usage', 'error: --tls-cert and --tls-key go together');
    const tls: TlsOptions = {};
    if (g.tlsCa) tls.ca = await fs.readFile(g.tlsCa);
    if (g.tlsCert) tls.cert = await fs.readFile(g.tlsCert);
    if (g.tlsKey) tls.key = await fs.readFile(g.tlsKey);
    return GrpcClient.connect({ address, tls });
  };
  /** withClient runs fn with a client that is closed afterwards. */
  const withClient = async <T>(cmd: Command, fn: (client: GrpcClient) => Promise<T>): Promise<T> => {
    const client = await connect(cmd);
    try {
      return await fn(client);
    } finally {
      client.close();
    }
  };
  const withContainer = <T>(cmd: Command, handle: string, fn: (c: Container) => Promise<T>): Promise<T> =>
    withClient(cmd, async (client) => fn(await client.lookup(handle)));

  /** print writes a result: JSON with --json, else text (or flattened key: value lines). */
  const print = async (cmd: Command, value: unknown, text?: string): Promise<void> => {
    if (globals(cmd).json) await write(stdio.stdout, `${JSON.stringify(value ?? null)}\n`);
    else if (text !== undefined) await write(stdio.stdout, text === '' ? '' : `${text}\n`);
    else {
      const lines = flatten(value);
      if (lines.length) await write(stdio.stdout, `${lines.join('\n')}\n`);
    }
  };

  program
    .description('arbor talks to arbord, the Arbor container server (the Garden API over gRPC).')
    .addOption(
      new Option('-a, --address <address>', 'arbord address: unix:///path/to.sock, host:port or a socket path').env('ARBOR_ADDRESS').default(DEFAULT_ADDRESS),
    )
    .addOption(new Option('--socket <path>', 'same as --address, for a unix socket path').argParser(parseAddress))
    .option('--json', 'print machine-readable JSON', false)
    .option('--tls-ca <file>', "CA certificate (PEM) that signed arbord's certificate, to verify arbord over TCP")
    .option('--tls-cert <file>', "client certificate (PEM) signed by arbord's tls.ca; arbord on TCP requires one")
    .option('--tls-key <file>', 'private key (PEM) of --tls-cert')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  arbor create --handle web-1 --memory 512M --env PORT=8080 --property app=web',
        '  arbor run web-1 -- /bin/echo hello',
        '  echo data | arbor run web-1 -- /bin/cat',
        '  arbor run --tty web-1 -- /bin/sh',
        '  arbor stream-in web-1 --path /app --from-dir ./build',
        '  arbor stream-out web-1 --path /var/log --to-dir ./logs',
        '  arbor --json list --property app=web',
        '  arbor pull docker://127.0.0.1:5000/app#v1',
        '  arbor events --handle web-1',
        '  arbor version',
        '  arbor --address arbor.example:7777 --tls-ca ca.crt --tls-cert me.crt --tls-key me.key list',
        '  arbor destroy web-1',
      ].join('\n'),
    );
  /**
   * pullWithProgress pulls image, showing progress on stderr: a bar on a terminal, lines
   * otherwise, nothing with --json. stdout stays for the command's result.
   */
  const pullWithProgress = async (cmd: Command, client: GrpcClient, image: ImageRef) => {
    if (globals(cmd).json) return client.pullImage(image);
    const { PullProgressView } = load.pullProgress();
    const err = stdio.stderr as NodeJS.WriteStream;
    const view = new PullProgressView(image.uri || "the server's default image", {
      stream: stdio.stderr,
      columns: err.isTTY === true ? (err.columns ?? 80) : undefined,
    });
    try {
      return await client.pullImage(image, view.onProgress);
    } finally {
      view.finish();
    }
  };

  define('pull', () =>
    program
      .command('pull')
      .description("fetch an image into arbord's store ahead of create, showing progress")
      .argument('<uri>', 'like docker://127.0.0.1:5000/app#v1, docker:///busybox, oci:/path/layout#tag')
      .addOption(new Option('--username <name>', 'registry user').env('ARBOR_IMAGE_USERNAME'))
      .addOption(new Option('--password <password>', 'registry password').env('ARBOR_IMAGE_PASSWORD'))
      .addHelpText('after', '\nExample:\n  arbor pull docker://127.0.0.1:5000/app#v1 && arbor create --image docker://127.0.0.1:5000/app#v1')
      .action(async (uri: string, opts: { username?: string; password?: string }, cmd: Command) => {
        const image: ImageRef = { uri, ...(opts.username && { username: opts.username }), ...(opts.password && { password: opts.password }) };
        const pulled = await withClient(cmd, (c) => pullWithProgress(cmd, c, image));
        await print(cmd, pulled, pulled.id || 'done');
      }),
  );

  define('ping', () =>
    program
      .command('ping')
      .description('check that arbord answers')
      .action(async (_opts, cmd: Command) => {
        await withClient(cmd, (c) => c.ping());
        await print(cmd, { ok: true }, 'ok');
      }),
  );

  define('version', () =>
    program
      .command('version')
      .description("show this client's version and arbord's")
      .action(async (_opts, cmd: Command) => {
        const client = arborVersion();
        const server = await withClient(cmd, (c) => c.serverVersion()).catch(async (err: unknown) => {
          // the client's version is worth showing even when arbord cannot be reached
          if (!globals(cmd).json) await write(stdio.stdout, `client: ${client}\n`);
          throw err;
        });
        await print(cmd, { client, server }, `client: ${client}\nserver: ${server}`);
      }),
  );

  define('events', () =>
    program
      .command('events')
      .description('follow what happens to containers (created, stopped, destroyed, reaped, oom, process-exited), one line each, until interrupted')
      .option('--handle <handle>', 'only this container (repeatable)', collect, [])
      .option('--count <n>', 'stop after this many events', parseCount)
      .addHelpText(
        'after',
        [
          '',
          'Each line is: time kind handle [process-id exit-code], like',
          '  2026-01-02T03:04:05.678Z process-exited web-1 job 3',
          'With --json, one JSON object a line: {"kind","handle","processId","exitCode","timeMs","message"}.',
          '',
          'Examples:',
          '  arbor events',
          '  arbor --json events --handle web-1 --count 1',
        ].join('\n'),
      )
      .action(async (opts: { handle: string[]; count?: number }, cmd: Command) => {
        const abort = new AbortController();
        const interrupt = (): void => abort.abort();
        globalThis.process.once('SIGINT', interrupt);
        globalThis.process.once('SIGTERM', interrupt);
        try {
          await withClient(cmd, async (c) => {
            if (opts.count === 0) return;
            let seen = 0;
            for await (const event of await c.events({ handles: opts.handle }, abort.signal)) {
              await print(cmd, event, eventLine(event));
              if (++seen === opts.count) break;
            }
          });
        } finally {
          globalThis.process.off('SIGINT', interrupt);
          globalThis.process.off('SIGTERM', interrupt);
        }
      }),
  );

  define('capacity', () =>
    program
      .command('capacity')
      .description(
        "show the server's memory, disk and container capacity; maxContainers is the smaller of arbord's maxContainers " +
          'and the /30s of its networkPool (256 for the default 10.254.0.0/22)',
      )
      .action(async (_opts, cmd: Command) => {
        await print(cmd, await withClient(cmd, (c) => c.capacity()));
      }),
  );

  define('create', () =>
    program
      .command('create')
      .description('create a container and print its handle')
      .option('--handle <handle>', 'handle (default: generated)')
      .option('--image <uri>', "rootfs: raw:///dir or docker:///repo#tag (default: the server's)")
      .option('--env <KEY=VALUE>', 'environment variable (repeatable)', collect, [])
      .option('--property <key=value>', 'property (repeatable)', collect, [])
      .option('--grace-time <duration>', 'destroy after this long untouched: ms, 10s, 5m; 0 = never', parseDuration)
      .option('--network <cidr>', 'subnet like 10.254.0.8/30, or an exact address in one')
      .option('--memory <size>', 'memory limit, like 512M', parseSize)
      .option('--cpu-weight <n>', 'relative CPU share', parseCount)
      .option('--pids <n>', 'most processes', parseCount)
      .option('--disk-hard <size>', 'disk limit, like 1G', parseSize)
      .addOption(new Option('--disk-scope <scope>', 'what --disk-hard counts').choices(['total', 'exclusive']).default('total'))
      .option(
        '--bind <src:dst[:ro|rw][,idmap]>',
        "bind mount from the host, read-only unless :rw; idmap: host ids are the container's own (repeatable)",
        collect,
        [],
      )
      .option('--net-in <host:container>', 'port mapping; host 0 = from the pool (repeatable)', collect, [])
      .option('--privileged', 'a privileged container', false)
      .addHelpText('after', '\nExample:\n  arbor create --handle web-1 --memory 512M --bind /srv/data:/data:rw --net-in 0:8080')
      .action(async (opts: Record<string, unknown>, cmd: Command) => {
        const spec: ContainerSpec = {};
        if (typeof opts['handle'] === 'string') spec.handle = opts['handle'];
        if (typeof opts['image'] === 'string') spec.image = { uri: opts['image'] };
        const envs = opts['env'] as string[];
        if (envs.length) spec.env = envs;
        const props = opts['property'] as string[];
        if (props.length) spec.properties = parseProperties(props);
        if (typeof opts['graceTime'] === 'number') spec.graceTimeMs = opts['graceTime'];
        if (typeof opts['network'] === 'string') spec.network = opts['network'];
        const limits: NonNullable<ContainerSpec['limits']> = {};
        if (typeof opts['memory'] === 'number') limits.memory = { limitInBytes: opts['memory'] };
        if (typeof opts['cpuWeight'] === 'number') limits.cpu = { weight: opts['cpuWeight'] };
        if (typeof opts['pids'] === 'number') limits.pid = { max: opts['pids'] };
        if (typeof opts['diskHard'] === 'number') {
          limits.disk = { byteSoft: 0, byteHard: opts['diskHard'], inodeSoft: 0, inodeHard: 0, scope: opts['diskScope'] as DiskLimits['scope'] };
        }
        if (Object.keys(limits).length) spec.limits = limits;
        const binds = opts['bind'] as string[];
        if (binds.length) spec.bindMounts = binds.map(parseBindMount);
        const netIn = opts['netIn'] as string[];
        if (netIn.length) spec.netIn = netIn.map(parsePortMapping);
        if (opts['privileged'] === true) spec.privileged = true;
        const container = await withClient(cmd, async (c) => {
          // pulled first, so the download shows; the create then finds the layers stored
          if (spec.image?.uri) await pullWithProgress(cmd, c, spec.image);
          return c.create(spec);
        });
        await print(cmd, { handle: container.handle }, container.handle);
      }),
  );

  define('destroy', () =>
    program
      .command('destroy')
      .description('destroy containers and everything they hold')
      .argument('<handle...>')
      .action(async (handles: string[], _opts, cmd: Command) => {
        await withClient(cmd, async (c) => {
          for (const handle of handles) await c.destroy(handle);
        });
        await print(cmd, { destroyed: handles }, '');
      }),
  );

  define('stop', () =>
    program
      .command('stop')
      .description('stop every process: TERM, then KILL after 10 s (or KILL at once with --kill)')
      .argument('<handle>')
      .option('--kill', 'send KILL at once', false)
      .action(async (handle: string, opts: { kill: boolean }, cmd: Command) => {
        await withContainer(cmd, handle, (c) => c.stop(opts.kill));
        await print(cmd, { stopped: handle }, '');
      }),
  );

  define('list', () =>
    program
      .command('list')
      .description('list container handles, optionally only those with every given property')
      .option('--property <key=value>', 'filter (repeatable)', collect, [])
      .action(async (opts: { property: string[] }, cmd: Command) => {
        const containers = await withClient(cmd, (c) => c.containers(parseProperties(opts.property)));
        const handles = containers.map((c) => c.handle);
        await print(cmd, handles, handles.join('\n'));
      }),
  );

  define('info', () =>
    program
      .command('info')
      .description("show a container's state, addresses, processes and properties")
      .argument('<handle>')
      .action(async (handle: string, _opts, cmd: Command) => {
        await print(cmd, await withContainer(cmd, handle, (c) => c.info()));
      }),
  );

  const bulkPrint = async <T>(cmd: Command, results: Record<string, BulkResult<T>>): Promise<void> => {
    const json = Object.fromEntries(Object.entries(results).map(([h, r]) => [h, r.error ? { error: toWireError(r.error) } : { value: r.value }]));
    const text = Object.entries(results)
      .map(([h, r]) => (r.error ? `${h}: error: ${r.error.message}` : flatten(r.value, h).join('\n')))
      .join('\n');
    await print(cmd, json, text);
  };

  define('bulk-info', () =>
    program
      .command('bulk-info')
      .description('info for several containers; an unknown handle gives an error entry')
      .argument('<handle...>')
      .action(async (handles: string[], _opts, cmd: Command) => {
        await bulkPrint(cmd, await withClient(cmd, (c) => c.bulkInfo(handles)));
      }),
  );

  define('metrics', () =>
    program
      .command('metrics')
      .description("show a container's memory, cpu, disk, network and pid usage")
      .argument('<handle>')
      .action(async (handle: string, _opts, cmd: Command) => {
        await print(cmd, await withContainer(cmd, handle, (c) => c.metrics()));
      }),
  );

  define('bulk-metrics', () =>
    program
      .command('bulk-metrics')
      .description('metrics for several containers')
      .argument('<handle...>')
      .action(async (handles: string[], _opts, cmd: Command) => {
        await bulkPrint(cmd, await withClient(cmd, (c) => c.bulkMetrics(handles)));
      }),
  );

  /** drive connects a running process to this terminal and resolves with its exit status. */
  const drive = async (startProcess: (io: Parameters<Container['run']>[1]) => Promise<Process>, tty: boolean): Promise<number> => {
    const stdin = stdio.stdin as NodeJS.ReadStream;
    const stdout = stdio.stdout as NodeJS.WriteStream;
    const raw = tty && stdin.isTTY === true && typeof stdin.setRawMode === 'function';
    if (raw) stdin.setRawMode(true);
    const cleanups: Array<() => void> = [];
    try {
      const process = await startProcess({ stdin: stdio.stdin as Readable, stdout: stdio.stdout as Writable, stderr: stdio.stderr as Writable });
      if (tty && stdout.isTTY) {
        const resize = (): void => {
          process.setTty({ windowSize: { columns: stdout.columns, rows: stdout.rows } }).catch(() => undefined);
        };
        globalThis.process.on('SIGWINCH', resize);
        cleanups.push(() => globalThis.process.off('SIGWINCH', resize));
      }
      if (!raw) {
        // without a terminal in raw mode, ^C reaches us: pass it on to the process
        for (const signal of ['SIGINT', 'SIGTERM'] as Signal[]) {
          const forward = (): void => {
            process.signal(signal).catch(() => undefined);
          };
          globalThis.process.on(signal, forward);
          cleanups.push(() => globalThis.process.off(signal, forward));
        }
      }
      return await process.wait();
    } finally {
      for (const cleanup of cleanups) cleanup();
      if (raw) stdin.setRawMode(false);
      stdin.pause();
    }
  };

  define('run', () =>
    program
      .command('run')
      .description("run a program in a container, connected to this terminal; exits with the program's code")
      .argument('<handle>')
      .argument('<command...>', 'program and arguments, after --')
      .option('--id <id>', 'process id (default: generated)')
      .option('--user <user>', 'user name or uid:gid (default: root)')
      .option('--dir <dir>', "working directory (default: the user's home)")
      .option('--env <KEY=VALUE>', 'environment variable (repeatable)', collect, [])
      .option('--rlimit <name=value>', 'resource limit like nofile=1024 (repeatable)', collect, [])
      .option('-t, --tty', 'allocate a terminal: raw mode here, window size and resizes passed on', false)
      .addHelpText('after', '\nExamples:\n  arbor run web-1 -- /bin/ls -la /\n  arbor run --tty --user vcap web-1 -- /bin/sh')
      .action(async (handle: string, command: string[], opts: Record<string, unknown>, cmd: Command) => {
        const [path, ...args] = command;
        const spec: ProcessSpec = { path: path ?? '', args };
        if (typeof opts['id'] === 'string') spec.id = opts['id'];
        if (typeof opts['user'] === 'string') spec.user = opts['user'];
        if (typeof opts['dir'] === 'string') spec.dir = opts['dir'];
        const envs = opts['env'] as string[];
        if (envs.length) spec.env = envs;
        const rlimits = opts['rlimit'] as string[];
        if (rlimits.length) spec.rlimits = parseRlimits(rlimits);
        const tty = opts['tty'] === true;
        if (tty) {
          const out = stdio.stdout as NodeJS.WriteStream;
          spec.tty = out.isTTY ? { windowSize: { columns: out.columns, rows: out.rows } } : {};
        }
        const status = await withContainer(cmd, handle, (c) => drive((io) => c.run(spec, io), tty));
        throw new ExitCode(status);
      }),
  );

  define('attach', () =>
    program
      .command('attach')
      .description("attach to a running process's output (and input); exits with its code")
      .argument('<handle>')
      .argument('<process-id>')
      .option('-t, --tty', 'put this terminal in raw mode and pass resizes on', false)
      .action(async (handle: string, processId: string, opts: { tty: boolean }, cmd: Command) => {
        const status = await withContainer(cmd, handle, (c) => drive((io) => c.attach(processId, io), opts.tty));
        throw new ExitCode(status);
      }),
  );

  define('stream-in', () =>
    program
      .command('stream-in')
      .description('extract a tar into the container at --path: from --from-dir, --tar or standard input')
      .argument('<handle>')
      .requiredOption('--path <path>', 'destination in the container (relative: to the user home)')
      .option('--user <user>', 'write as this user (default: root)')
      .option('--from-dir <dir>', 'tar this local directory')
      .option('--tar <file>', 'a local tar file')
      .addHelpText('after', '\nExamples:\n  arbor stream-in web-1 --path /app --from-dir ./build\n  tar -c . | arbor stream-in web-1 --path /app')
      .action(async (handle: string, opts: { path: string; user?: string; fromDir?: string; tar?: string }, cmd: Command) => {
        if (opts.fromDir && opts.tar) throw new CommanderError(2, 'arbor.usage', 'error: use one of --from-dir and --tar');
        const tar: Readable = opts.fromDir ? load.tarDirectory().tarDirectory(opts.fromDir) : opts.tar ? createReadStream(opts.tar) : (stdio.stdin as Readable);
        await withContainer(cmd, handle, (c) => c.streamIn({ path: opts.path, tar, ...(opts.user && { user: opts.user }) }));
        await print(cmd, { streamedIn: opts.path }, '');
      }),
  );

  define('stream-out', () =>
    program
      .command('stream-out')
      .description('tar --path out of the container: into --to-dir, --tar or standard output')
      .argument('<handle>')
      .requiredOption('--path <path>', "'a/b' gives entries b/...; 'a/b/' gives the directory's contents")
      .option('--user <user>', 'read as this user (default: root)')
      .option('--to-dir <dir>', 'extract here (entries that would leave it are refused; no devices, no setuid or setgid bits)')
      .option('--preserve-permissions', 'with --to-dir: keep setuid and setgid bits and modes exactly as the container has them')
      .option('--tar <file>', 'write the tar to this file')
      .addHelpText('after', '\nExamples:\n  arbor stream-out web-1 --path /var/log/ --to-dir ./logs\n  arbor stream-out web-1 --path /etc/hosts | tar -t')
      .action(async (handle: string, opts: { path: string; user?: string; toDir?: string; tar?: string; preservePermissions?: boolean }, cmd: Command) => {
        if (opts.toDir && opts.tar) throw new CommanderError(2, 'arbor.usage', 'error: use one of --to-dir and --tar');
        if (opts.preservePermissions && !opts.toDir) throw new CommanderError(2, 'arbor.usage', 'error: --preserve-permissions needs --to-dir');
        await withContainer(cmd, handle, async (c) => {
          const tar = await c.streamOut({ path: opts.path, ...(opts.user && { user: opts.user }) });
          if (opts.toDir) await load.extractTar().extractTar(tar, opts.toDir, { preservePermissions: opts.preservePermissions ?? false });
          else if (opts.tar) await streams.pipeline(tar, createWriteStream(opts.tar));
          else await streams.pipeline(tar, stdio.stdout as Writable, { end: false });
        });
      }),
  );

  define('limit-bandwidth', () =>
    program
      .command('limit-bandwidth')
      .description('limit network bandwidth')
      .argument('<handle>')
      .requiredOption('--rate <size>', 'bytes per second, like 1M', parseSize)
      .requiredOption('--burst <size>', 'burst bytes, like 64K', parseSize)
      .action(async (handle: string, opts: { rate: number; burst: number }, cmd: Command) => {
        await withContainer(cmd, handle, (c) => c.limitBandwidth({ rateInBytesPerSecond: opts.rate, burstRateInBytesPerSecond: opts.burst }));
        await print(cmd, { ok: true }, '');
      }),
  );

  define('limit-cpu', () =>
    program
      .command('limit-cpu')
      .description('set the relative CPU weight')
      .argument('<handle>')
      .requiredOption('--weight <n>', 'relative share', parseCount)
      .action(async (handle: string, opts: { weight: number }, cmd: Command) => {
        await withContainer(cmd, handle, (c) => c.limitCpu({ weight: opts.weight }));
        await print(cmd, { ok: true }, '');
      }),
  );

  define('limit-disk', () =>
    program
      .command('limit-disk')
      .description('limit disk bytes and inodes')
      .argument('<handle>')
      .option('--byte-soft <size>', 'soft byte limit', parseSize, 0)
      .option('--byte-hard <size>', 'hard byte limit', parseSize, 0)
      .option('--inode-soft <n>', 'soft inode limit', parseCount, 0)
      .option('--inode-hard <n>', 'hard inode limit', parseCount, 0)
      .addOption(new Option('--scope <scope>', 'what counts').choices(['total', 'exclusive']).default('total'))
      .action(async (handle: string, opts: Omit<DiskLimits, 'scope'> & { scope: DiskLimits['scope'] }, cmd: Command) => {
        const limits: DiskLimits = {
          byteSoft: opts.byteSoft,
          byteHard: opts.byteHard,
          inodeSoft: opts.inodeSoft,
          inodeHard: opts.inodeHard,
          scope: opts.scope,
        };
        await withContainer(cmd, handle, (c) => c.limitDisk(limits));
        await print(cmd, { ok: true }, '');
      }),
  );

  define('limit-memory', () =>
    program
      .command('limit-memory')
      .description('limit memory')
      .argument('<handle>')
      .requiredOption('--limit <size>', 'bytes, like 512M; 0 = unlimited', parseSize)
      .action(async (handle: string, opts: { limit: number }, cmd: Command) => {
        await withContainer(cmd, handle, (c) => c.limitMemory({ limitInBytes: opts.limit }));
        await print(cmd, { ok: true }, '');
      }),
  );

  define('limit-pids', () =>
    program
      .command('limit-pids')
      .description('limit the number of processes')
      .argument('<handle>')
      .requiredOption('--max <n>', 'most processes; 0 = unlimited', parseCount)
      .action(async (handle: string, opts: { max: number }, cmd: Command) => {
        await withContainer(cmd, handle, (c) => c.limitPids({ max: opts.max }));
        await print(cmd, { ok: true }, '');
      }),
  );

  define('limits', () =>
    program
      .command('limits')
      .description('show the limits in force')
      .argument('<handle>')
      .action(async (handle: string, _opts, cmd: Command) => {
        await print(cmd, await withContainer(cmd, handle, (c) => c.currentLimits()));
      }),
  );

  define('net-in', () =>
    program
      .command('net-in')
      .description('map a host port to a container port and print the mapping')
      .argument('<handle>')
      .option('--host-port <port>', '0 = one from the pool', parsePort, 0)
      .option('--container-port <port>', '0 = same as the host port', parsePort, 0)
      .action(async (handle: string, opts: { hostPort: number; containerPort: number }, cmd: Command) => {
        const m = await withContainer(cmd, handle, (c) => c.netIn(opts.hostPort, opts.containerPort));
        await print(cmd, m, `${m.hostPort}:${m.containerPort}`);
      }),
  );

  define('net-out', () =>
    program
      .command('net-out')
      .description('allow egress matching a rule')
      .argument('<handle>')
      .addOption(new Option('--protocol <protocol>', 'protocol').choices(['all', 'tcp', 'udp', 'icmp']).default('all'))
      .option('--network <a.b.c.d[-e.f.g.h]>', 'destination address or range (repeatable)', collect, [])
      .option('--port <N[-M]>', 'destination port or range, tcp/udp only (repeatable)', collect, [])
      .option('--icmp-type <n>', 'ICMP type (protocol icmp)', parseCount)
      .option('--icmp-code <n>', 'ICMP code (protocol icmp)', parseCount)
      .option('--log', 'log matching connections', false)
      .addHelpText('after', '\nExample:\n  arbor net-out web-1 --protocol tcp --network 10.0.0.0-10.0.0.255 --port 443')
      .action(async (handle: string, opts: Record<string, unknown>, cmd: Command) => {
        const rule: NetOutRule = { protocol: opts['protocol'] as NetOutProtocol };
        const networks = opts['network'] as string[];
        if (networks.length) rule.networks = networks.map(parseIpRange);
        const ports = opts['port'] as string[];
        if (ports.length) rule.ports = ports.map(parsePortRange);
        if (typeof opts['icmpType'] === 'number') {
          rule.icmps = { type: opts['icmpType'], ...(typeof opts['icmpCode'] === 'number' && { code: opts['icmpCode'] }) };
        }
        if (opts['log'] === true) rule.log = true;
        await withContainer(cmd, handle, (c) => c.netOut(rule));
        await print(cmd, { ok: true }, '');
      }),
  );

  define('properties', () =>
    program
      .command('properties')
      .description("show a container's properties")
      .argument('<handle>')
      .action(async (handle: string, _opts, cmd: Command) => {
        const props = await withContainer(cmd, handle, (c) => c.properties());
        await print(
          cmd,
          props,
          Object.entries(props)
            .map(([k, v]) => `${k}=${v}`)
            .join('\n'),
        );
      }),
  );

  define('get-property', () =>
    program
      .command('get-property')
      .description('print one property')
      .argument('<handle>')
      .argument('<name>')
      .action(async (handle: string, name: string, _opts, cmd: Command) => {
        const value = await withContainer(cmd, handle, (c) => c.property(name));
        await print(cmd, { [name]: value }, value);
      }),
  );

  define('set-property', () =>
    program
      .command('set-property')
      .description('set one property')
      .argument('<handle>')
      .argument('<name>')
      .argument('<value>')
      .action(async (handle: string, name: string, value: string, _opts, cmd: Command) => {
        await withContainer(cmd, handle, (c) => c.setProperty(name, value));
        await print(cmd, { ok: true }, '');
      }),
  );

  define('remove-property', () =>
    program
      .command('remove-property')
      .description('remove one property')
      .argument('<handle>')
      .argument('<name>')
      .action(async (handle: string, name: string, _opts, cmd: Command) => {
        await withContainer(cmd, handle, (c) => c.removeProperty(name));
        await print(cmd, { ok: true }, '');
      }),
  );

  define('set-grace-time', () =>
    program
      .command('set-grace-time')
      .description('destroy the container after it is untouched this long: ms, 10s, 5m, 1h; 0 = never')
      .argument('<handle>')
      .argument('<duration>', 'like 30s', parseDuration)
      .action(async (handle: string, graceTimeMs: number, _opts, cmd: Command) => {
        await withContainer(cmd, handle, (c) => c.setGraceTime(graceTimeMs));
        await print(cmd, { ok: true }, '');
      }),
  );

  define('completion', () =>
    program
      .command('completion')
      .description('print a shell completion script for arbor: commands and their flags')
      .addArgument(new Argument('<shell>', 'bash or zsh').choices(COMPLETION_SHELLS))
      .action(async (shell: CompletionShell) => {
        await write(stdio.stdout, completionScript(program, shell));
      }),
  );

  const only = argv && commandNamed(program, argv);
  const chosen = only === 'completion' ? [] : builders.filter(([name]) => name === only);
  for (const [, build] of chosen.length > 0 ? chosen : builders) build();
  addCommandExamples(program);
  return program;
}

/**
 * runArborCli runs the CLI and resolves with the exit code: a process's own code for run
 * and attach, 0 for success, 1 for an error (message on stderr), 2 for a usage error.
 */
export async function runArborCli(argv: readonly string[], stdio: CliStdio): Promise<number> {
  const program = createArborCli(stdio, argv);
  program.exitOverride();
  program.configureOutput({
    writeOut: (s) => void stdio.stdout.write(s),
    writeErr: (s) => void stdio.stderr.write(s),
  });
  for (const cmd of program.commands) {
    cmd.exitOverride();
    cmd.configureOutput({ writeOut: (s) => void stdio.stdout.write(s), writeErr: (s) => void stdio.stderr.write(s) });
    cmd.showHelpAfterError('(run with --help for usage)');
  }
  const json = argv.includes('--json');
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof ExitCode) return err.code;
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') return 0;
      if (err.code === 'arbor.usage') await write(stdio.stderr, `${err.message}\n`);
      return 2;
    }
    const message = err instanceof Error ? err.message : String(err);
    if (json) await write(stdio.stderr, `${JSON.stringify({ error: toWireError(err) })}\n`);
    else await write(stdio.stderr, `arbor: ${message}\n`);
    return 1;
  }
}
