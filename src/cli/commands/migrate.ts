/** `carte migrate [SCHEMA] [--db URL] [--apply] [--allow-destructive]`: plan, then apply (SPEC §10). */
import { parseArgs } from 'node:util';
import { fromEnv, resolveConfig } from '../../config/config.js';
import { loadSchemaFile } from '../../schema/load.js';
import { describeDb, openStore } from '../../store/open.js';
import { paint, UsageError, type Command } from '../output.js';
import { schemaFileOf } from '../schema-file.js';

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'print the migration plan from the database to the schema; apply it',
  usage: `carte migrate [SCHEMA] [--db URL] [--apply] [--allow-destructive]

  Prints every step needed to bring the database to the schema's shape. Additive steps
  (new resources, fields, indexes, search indexes: marked +) also apply by themselves when
  'carte serve' starts. Destructive ones (marked !: a dropped resource or field, a field
  whose type changes, a key type change) lose or convert data: serve refuses to start
  until they are applied here.

  SCHEMA               default ./carte.yaml
  --db URL             ./carte.db (default; CARTE_DB; the schema's config.db), postgres://…
  --apply              run the plan (all of it in one transaction)
  --allow-destructive  needed with --apply when the plan has destructive steps

  Exit codes: 0 planned or applied; 1 destructive steps without --allow-destructive.`,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { db: { type: 'string' }, apply: { type: 'boolean' }, 'allow-destructive': { type: 'boolean' } },
    });
    if (positionals.length > 1) throw new UsageError('usage: carte migrate [SCHEMA] [--db URL] [--apply] [--allow-destructive]');
    const { model } = await loadSchemaFile(schemaFileOf(positionals[0]));
    const config = resolveConfig(model.config, { ...fromEnv(process.env), ...(values.db ? { db: values.db } : {}) });
    const store = await openStore(config.db, { durability: config.durability, poolSize: 2 });
    try {
      const plan = await store.planMigration(model);
      const where = describeDb(config.db);
      if (plan.steps.length === 0) {
        process.stdout.write(`The database (${where.kind} ${where.location}) already matches the schema.\n`);
        return 0;
      }
      process.stdout.write(`Plan for ${where.kind} ${where.location}:\n`);
      for (const step of plan.steps) {
        process.stdout.write(`${step.destructive ? paint.red('! destructive:', process.stdout) : '+'} ${step.description}\n`);
      }
      const destructive = plan.steps.filter((s) => s.destructive);
      if (!values.apply) {
        process.stdout.write(
          `\n${plan.steps.length} step${plan.steps.length === 1 ? '' : 's'}${destructive.length ? `, ${destructive.length} destructive` : ''}; run again with --apply${destructive.length ? ' --allow-destructive' : ''} to apply.\n`,
        );
        return 0;
      }
      if (destructive.length > 0 && !values['allow-destructive']) {
        process.stderr.write(`${paint.red(`${destructive.length} destructive step${destructive.length === 1 ? '' : 's'}: nothing applied; add --allow-destructive to apply the plan.`)}\n`);
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
