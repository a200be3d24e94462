import type { EventEmitter } from 'node:events';
import type { Command } from 'commander';

/**
 * COMMAND_EXAMPLES are the lines `arbor <command> --help` ends with, for the commands that do
 * not add their own in createArborCli. cli.spec.ts checks that every command has examples.
 */
export const COMMAND_EXAMPLES: Readonly<Record<string, readonly string[]>> = {
  ping: ['arbor ping', 'arbor --address unix:///tmp/arbord.sock ping'],
  version: ['arbor version', 'arbor --json version'],
  capacity: ['arbor capacity', 'arbor --json capacity'],
  destroy: ['arbor destroy web-1', 'arbor destroy $(arbor list --property app=web)'],
  stop: ['arbor stop web-1', 'arbor stop --kill web-1'],
  list: ['arbor list', 'arbor --json list --property app=web'],
  info: ['arbor info web-1', 'arbor --json info web-1'],
  'bulk-info': ['arbor bulk-info web-1 web-2', 'arbor --json bulk-info $(arbor list)'],
  metrics: ['arbor metrics web-1', 'arbor --json metrics web-1'],
  'bulk-metrics': ['arbor bulk-metrics web-1 web-2', 'arbor --json bulk-metrics $(arbor list)'],
  attach: ['arbor attach web-1 server', 'arbor attach --tty web-1 shell'],
  'limit-bandwidth': ['arbor limit-bandwidth web-1 --rate 1M --burst 64K'],
  'limit-cpu': ['arbor limit-cpu web-1 --weight 512'],
  'limit-disk': ['arbor limit-disk web-1 --byte-hard 1G', 'arbor limit-disk web-1 --byte-hard 1G --inode-hard 100000 --scope exclusive'],
  'limit-memory': ['arbor limit-memory web-1 --limit 512M', 'arbor limit-memory web-1 --limit 0'],
  'limit-pids': ['arbor limit-pids web-1 --max 1024'],
  limits: ['arbor limits web-1', 'arbor --json limits web-1'],
  'net-in': ['arbor net-in web-1 --container-port 8080', 'arbor net-in web-1 --host-port 61080 --container-port 80'],
  properties: ['arbor properties web-1', 'arbor --json properties web-1'],
  'get-property': ['arbor get-property web-1 app'],
  'set-property': ['arbor set-property web-1 app web'],
  'remove-property': ['arbor remove-property web-1 app'],
  'set-grace-time': ['arbor set-grace-time web-1 5m', 'arbor set-grace-time web-1 0'],
  completion: ['source <(arbor completion bash)', 'arbor completion zsh > "${fpath[1]}/_arbor"'],
};

/**
 * addCommandExamples gives each command of program without help text of its own (an
 * 'afterHelp' listener, as addHelpText adds) its COMMAND_EXAMPLES.
 */
export function addCommandExamples(program: Command): void {
  for (const command of program.commands) {
    // addHelpText adds an 'afterHelp' listener: Command is an EventEmitter, though not typed as one
    const examples = COMMAND_EXAMPLES[command.name()];
    if (!examples || (command as unknown as EventEmitter).listenerCount('afterHelp') > 0) continue;
    command.addHelpText('after', ['', examples.length > 1 ? 'Examples:' : 'Example:', ...examples.map((e) => `  ${e}`)].join('\n'));
  }
}
