import type { Command, Option } from 'commander';

/** COMPLETION_SHELLS are the shells `arbor completion <shell>` writes a script for. */
export const COMPLETION_SHELLS = ['bash', 'zsh'] as const;
export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

interface CommandWords {
  name: string;
  description: string;
  /** flags are like ['--handle', '--memory', '-t', '--tty', '--help']. */
  flags: string[];
}

function flagsOf(options: readonly Option[]): string[] {
  return options.flatMap((o) => [o.short, o.long].filter((f): f is string => f !== undefined));
}

/**
 * words reads what completes from the program itself, so a command or option added to
 * createArborCli completes without touching this file: every command's name, description and
 * flags, the global flags, and which global flags take a value (their value is no command).
 */
function words(program: Command): { commands: CommandWords[]; globals: string[]; globalsWithValue: string[] } {
  const commands = program.commands.map((c) => ({ name: c.name(), description: c.description(), flags: [...flagsOf(c.options), '--help'] }));
  const globals = [...flagsOf(program.options), '--help'];
  const globalsWithValue = flagsOf(program.options.filter((o) => o.required || o.optional));
  return { commands, globals, globalsWithValue };
}

function bashScript(program: Command): string {
  const { commands, globals, globalsWithValue } = words(program);
  const cases = commands.map((c) => `    ${c.name}) opts="${c.flags.join(' ')}" ;;`);
  return `# bash completion for arbor, written by \`arbor completion bash\`.
# Load it with: source <(arbor completion bash)   (or save it in /etc/bash_completion.d/arbor)
_arbor() {
  local cur=\${COMP_WORDS[COMP_CWORD]} cmd="" opts="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case \${COMP_WORDS[i]} in
      ${globalsWithValue.join('|')}) ((i++)) ;;
      -*) ;;
      *) cmd=\${COMP_WORDS[i]}; break ;;
    esac
  done
  if [[ -z $cmd ]]; then
    if [[ $cur == -* ]]; then
      COMPREPLY=($(compgen -W "${globals.join(' ')}" -- "$cur"))
    else
      COMPREPLY=($(compgen -W "${commands.map((c) => c.name).join(' ')}" -- "$cur"))
    fi
    return 0
  fi
  case $cmd in
${cases.join('\n')}
    *) return 0 ;;
  esac
  # flags after a command; anything else (handles, paths) falls back to file names
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  fi
  return 0
}
complete -o default -F _arbor arbor
`;
}

/** zshQuote makes text one zsh single-quoted word, for _describe's 'name:description'. */
function zshQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function zshScript(program: Command): string {
  const { commands, globals, globalsWithValue } = words(program);
  const described = commands.map((c) => `    ${zshQuote(`${c.name}:${c.description.replace(/:/g, '\\:')}`)}`);
  const cases = commands.map((c) => `    ${c.name}) opts=(${c.flags.join(' ')}) ;;`);
  return `#compdef arbor
# zsh completion for arbor, written by \`arbor completion zsh\`.
# Load it with: source <(arbor completion zsh)   (after compinit), or save it as _arbor in $fpath
_arbor() {
  local -a commands opts
  local cmd="" i
  commands=(
${described.join('\n')}
  )
  for ((i = 2; i < CURRENT; i++)); do
    case \${words[i]} in
      ${globalsWithValue.join('|')}) ((i++)) ;;
      -*) ;;
      *) cmd=\${words[i]}; break ;;
    esac
  done
  if [[ -z $cmd ]]; then
    if [[ \${words[CURRENT]} == -* ]]; then
      compadd -- ${globals.join(' ')}
    else
      _describe -t commands 'arbor command' commands
    fi
    return
  fi
  case $cmd in
${cases.join('\n')}
    *) return ;;
  esac
  if [[ \${words[CURRENT]} == -* ]]; then
    compadd -- $opts
  else
    _files
  fi
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _arbor "$@"
else
  compdef _arbor arbor
fi
`;
}

/**
 * completionScript writes the shell completion of program (the arbor CLI) for shell, from its
 * own command list: command names, then each command's flags.
 */
export function completionScript(program: Command, shell: CompletionShell): string {
  return shell === 'bash' ? bashScript(program) : zshScript(program);
}
