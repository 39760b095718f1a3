/** The `carte` command line: dispatches to one command per file; errors go to stderr with a non-zero exit. */
import { DestructiveMigrationError } from '../store/store.js';
import { SchemaError } from '../schema/validate.js';
import { formatProblems } from '../schema/load.js';
import { checkCommand } from './commands/check.js';
import { clientsCommand } from './commands/clients.js';
import { exportCommand } from './commands/export.js';
import { importCommand } from './commands/import.js';
import { inferCommand } from './commands/infer.js';
import { initCommand } from './commands/init.js';
import { keysCommand } from './commands/keys.js';
import { migrateCommand } from './commands/migrate.js';
import { openapiCommand } from './commands/openapi.js';
import { serveCommand } from './commands/serve.js';
import { signingKeysCommand } from './commands/signing-keys.js';
import { paint, UsageError, type Command } from './output.js';

const COMMANDS: readonly Command[] = [
  serveCommand,
  checkCommand,
  migrateCommand,
  openapiCommand,
  importCommand,
  exportCommand,
  initCommand,
  inferCommand,
  clientsCommand,
  keysCommand,
  signingKeysCommand,
];

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `carte — a complete, standards-following web API from one resource schema

Usage: carte <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Run 'carte <command> --help' for a command's options.
`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v') {
    const pkg = (await import('../../package.json', { with: { type: 'json' } })).default as { version: string };
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`${paint.red(`carte: unknown command '${name}'`)}\n\n${help()}`);
    return 2;
  }
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(args);
  } catch (e) {
    if (e instanceof SchemaError) process.stderr.write(`${formatProblems(e)}\n`);
    else if (e instanceof UsageError) process.stderr.write(`${paint.red(e.message)}\n`);
    else if (e instanceof DestructiveMigrationError) process.stderr.write(`${paint.red(e.message)}\n`);
    else if ((e as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || (e as { code?: string }).code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      process.stderr.write(`${paint.red(`carte ${command.name}: ${(e as Error).message}`)}\n${command.usage}\n`);
      return 2;
    } else if ((e as { code?: string }).code === 'EADDRINUSE') process.stderr.write(`${paint.red(`carte: ${(e as Error).message}; choose another --port`)}\n`);
    else process.stderr.write(`${paint.red(`carte: ${(e as Error).message}`)}\n`);
    return e instanceof UsageError ? e.exitCode : 1;
  }
}
