import type { Command } from 'commander';
import { CliError, EXIT } from './exit.js';
import { print, type Cli } from './io.js';
import type { Action } from './verbs.js';

/**
 * Shell completion, generated from the program itself so it never drifts from the commands:
 * `source <(autodevhub completion bash)` (zsh: after `autoload -U bashcompinit && bashcompinit`).
 */

function words(cmd: Command): string {
  return [...cmd.commands.map((c) => c.name()), ...cmd.options.map((o) => o.long ?? o.short ?? '')].filter(Boolean).join(' ');
}

export function bashCompletion(program: Command): string {
  const cases = program.commands
    .filter((c) => c.name() !== 'completion')
    .map((c) => `    ${c.name()}) opts="${words(c)} --help" ;;`)
    .join('\n');
  return `# autodevhub completion (bash; zsh with bashcompinit)
_autodevhub() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" sub="" opts i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in --server) ((i++)) ;; -*) ;; *) sub="\${COMP_WORDS[i]}"; break ;; esac
  done
  case "$sub" in
    "") opts="${words(program)} --help" ;;
${cases}
    *) opts="" ;;
  esac
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _autodevhub autodevhub
`;
}

export function registerCompletion(program: Command, act: (fn: Action) => (...args: any[]) => Promise<void>, cli: Cli): void {
  program
    .command('completion')
    .description('Print a shell completion script: source <(autodevhub completion bash)')
    .argument('[shell]', 'bash or zsh', 'bash')
    .action(
      act(async (shell: string) => {
        if (shell !== 'bash' && shell !== 'zsh') throw new CliError(`No completion for ${shell.slice(0, 20)}: use bash or zsh.`, EXIT.usage);
        print(cli, `${shell === 'zsh' ? 'autoload -U +X bashcompinit && bashcompinit\n' : ''}${bashCompletion(program)}`);
        return EXIT.succeeded;
      }),
    );
}
