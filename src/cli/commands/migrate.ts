/** `carte migrate SCHEMA --db URL [--apply] [--allow-destructive]`: plan, then apply. */
import { parseArgs } from 'node:util';
import { loadSchemaFile } from '../../schema/load.js';
import { openStore } from '../../store/open.js';
import { paint, UsageError, type Command } from '../output.js';

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'print the migration plan from the database to the schema; apply it',
  usage: `carte migrate SCHEMA [--db URL] [--apply] [--allow-destructive]

  Prints every step needed to bring the database to the schema's shape; destructive
  steps (dropped or retyped columns, dropped tables) are marked. --apply runs the
  additive steps; destructive ones also need --allow-destructive.`,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { db: { type: 'string' }, apply: { type: 'boolean' }, 'allow-destructive': { type: 'boolean' } },
    });
    const file = positionals[0];
    if (!file) throw new UsageError('usage: carte migrate SCHEMA [--db URL] [--apply] [--allow-destructive]');
    const { model } = await loadSchemaFile(file);
    const store = await openStore(values.db ?? process.env.CARTE_DB ?? './carte.db');
    try {
      const plan = await store.planMigration(model);
      if (plan.steps.length === 0) {
        process.stdout.write('The database already matches the schema.\n');
        return 0;
      }
      for (const step of plan.steps) {
        process.stdout.write(`${step.destructive ? paint.red('! destructive', process.stdout) : '+'} ${step.description}\n`);
      }
      const destructive = plan.steps.filter((s) => s.destructive);
      if (!values.apply) {
        process.stdout.write(`\n${plan.steps.length} step${plan.steps.length === 1 ? '' : 's'}; run again with --apply${destructive.length ? ' --allow-destructive' : ''} to apply.\n`);
        return 0;
      }
      if (destructive.length > 0 && !values['allow-destructive']) {
        process.stderr.write(`${destructive.length} destructive step${destructive.length === 1 ? '' : 's'}: add --allow-destructive to apply them.\n`);
        return 1;
      }
      await store.applyMigration(plan, { allowDestructive: values['allow-destructive'] === true });
      store.attach(model);
      process.stdout.write(`${paint.green('✓')} applied ${plan.steps.length} step${plan.steps.length === 1 ? '' : 's'}.\n`);
      return 0;
    } finally {
      await store.close();
    }
  },
};
