/** `carte infer db.json`: the schema `carte serve db.json` would infer, as YAML to take over. */
import { parseArgs } from 'node:util';
import { inferFile, schemaYaml } from '../json-server.js';
import { UsageError, type Command } from '../output.js';

export const inferCommand: Command = {
  name: 'infer',
  summary: 'print the schema inferred from a json-server db.json (YAML)',
  usage: `carte infer DB.JSON

  Prints the Carte schema 'carte serve DB.JSON' infers from a json-server database file,
  with a comment for each choice it made (renamed collections and fields, renumbered ids,
  references found). Save it (carte infer db.json > carte.yaml), edit it, serve it.`,
  async run(args) {
    const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
    if (positionals.length !== 1) throw new UsageError('usage: carte infer DB.JSON');
    const file = positionals[0] as string;
    process.stdout.write(schemaYaml(file, inferFile(file)));
    return 0;
  },
};
