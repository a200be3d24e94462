#!/usr/bin/env node
import { arborVersion } from '@arbor/core';
import { DEFAULT_CONFIG } from './arbor-config';
import { backends } from './backends';
import { CONFIG_FIELDS, DEFAULT_CONFIG_PATH, configFromFlags, loadConfig, parseArbordArgs } from './load-config';
import { startArbord } from './start-arbord';
import { sizeThreadPool } from './thread-pool';

function usage(): string {
  const flags = CONFIG_FIELDS.map((f) => (f.kind === 'bool' ? `  --[no-]${f.flag}` : `  --${f.flag} <value>`));
  // the column fits the longest flag, like --tls-insecure-anonymous-clients
  const width = Math.max(34, ...flags.map((flag) => flag.length + 2));
  const lines = CONFIG_FIELDS.map((f, i) => (flags[i] ?? '').padEnd(width) + `${f.description} [${f.env}]`);
  return [
    'Usage: arbord [options]',
    '',
    "arbord serves the Arbor (Garden) container API over gRPC, and Garden's own HTTP protocol with --garden-listen.",
    '',
    'Options (precedence: flags > ARBOR_* environment > config file > defaults):',
    `  --config <file>`.padEnd(width) + `YAML config file [ARBOR_CONFIG; default ${DEFAULT_CONFIG_PATH} if it exists]`,
    ...lines,
    '  -h, --help'.padEnd(width) + 'show this help',
    '  --version'.padEnd(width) + "print arbord's version (the repository's package.json) and exit",
    '',
    `Backends: ${Object.keys(backends).join(', ')}. Defaults: listen ${DEFAULT_CONFIG.listen}, state dir ${DEFAULT_CONFIG.stateDir}.`,
    '',
    'Examples:',
    '  arbord --backend fake --listen unix:///tmp/arbord.sock --state-dir /tmp/arbor',
    '  arbord --listen tcp://0.0.0.0:7777 --tls-cert server.crt --tls-key server.key --tls-ca clients-ca.crt',
    '  arbord --garden-listen unix:///run/arbor/garden.sock   # for Garden clients: Concourse, Diego, gaol',
    '  ARBOR_LOG_LEVEL=debug arbord --config /etc/arbor/arbord.yaml',
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  sizeThreadPool();
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArbordArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`arbord: ${err instanceof Error ? err.message : String(err)}\n(run arbord --help for usage)\n`);
    process.exit(2);
  }
  if (values['help']) {
    process.stdout.write(usage());
    return;
  }
  if (values['version']) {
    process.stdout.write(`arbord ${arborVersion()}\n`);
    return;
  }
  const configPath = values['config'];
  const config = await loadConfig({
    flags: configFromFlags(values),
    env: process.env,
    ...(typeof configPath === 'string' && { configPath }),
  });
  const running = await startArbord(config);

  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      process.stderr.write(`arbord: ${signal} again, exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    running.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`arbord: shutdown failed: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

main().catch((err: unknown) => {
  process.stderr.write(`arbord: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
