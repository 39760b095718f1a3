/** `carte check SCHEMA`: validates a schema and reports every problem with its place. */
import { parseArgs } from 'node:util';
import { formatProblems, loadSchemaFile } from '../../schema/load.js';
import { SchemaError } from '../../schema/validate.js';
import { paint, UsageError, type Command } from '../output.js';

export const checkCommand: Command = {
  name: 'check',
  summary: 'validate a schema and report every problem at once',
  usage: `carte check SCHEMA

  Validates a YAML, JSON or TS/JS schema. Each problem names the file, the line when
  known, the path inside the schema and what is expected. Exit code 1 when invalid.`,
  async run(args) {
    const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
    const file = positionals[0];
    if (!file || positionals.length > 1) throw new UsageError('usage: carte check SCHEMA');
    try {
      const { model } = await loadSchemaFile(file);
      const resources = [...model.resources.values()];
      process.stdout.write(
        `${paint.green('✓')} ${file}: ${model.name} v${model.version} — ${resources.length} resource${resources.length === 1 ? '' : 's'} (${resources.map((r) => r.name).join(', ')}), ${model.actions.size} operation${model.actions.size === 1 ? '' : 's'}\n`,
      );
      return 0;
    } catch (e) {
      if (e instanceof SchemaError) {
        process.stderr.write(`${formatProblems(e)}\n${paint.red(`${e.problems.length} problem${e.problems.length === 1 ? '' : 's'}`)}\n`);
        return 1;
      }
      throw e;
    }
  },
};
