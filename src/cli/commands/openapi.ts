/** `carte openapi [SCHEMA]`: prints the OpenAPI 3.1 document of a schema (or of the demo), as JSON or YAML. */
import { parseArgs } from 'node:util';
import { createServer } from '../../app.js';
import { serverDocument } from '../../openapi/plugin.js';
import { toYaml } from '../../openapi/yaml.js';
import { UsageError, type Command } from '../output.js';

export const openapiCommand: Command = {
  name: 'openapi',
  summary: 'print the OpenAPI 3.1 document of a schema (no SCHEMA: the demo)',
  usage: `carte openapi [SCHEMA] [--schema FILE] [--format json|yaml] [--server URL]

  SCHEMA, --schema FILE   a .yaml, .json, .ts or .js schema; none: the built-in demo
  --format json|yaml      default json
  --server URL            the server URL the document names (default http://127.0.0.1:3000,
                          or CARTE_PUBLIC_URL)

  The document is the one GET /v1/openapi.json serves: built from the schema and the routes
  Carte registers for it, on a throw-away in-memory database.`,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { schema: { type: 'string' }, format: { type: 'string' }, server: { type: 'string' } },
    });
    if (positionals.length > 1 || (positionals.length === 1 && values.schema !== undefined)) {
      throw new UsageError('usage: carte openapi [SCHEMA] [--format json|yaml]; give the schema once');
    }
    const format = values.format ?? 'json';
    if (format !== 'json' && format !== 'yaml') throw new UsageError(`--format must be json or yaml (got ${format})`);
    const schema = values.schema ?? positionals[0];
    const base = (values.server ?? process.env.CARTE_PUBLIC_URL ?? 'http://127.0.0.1:3000').replace(/\/+$/, '');
    if (!/^https?:\/\/[^/\s]+/.test(base)) throw new UsageError(`--server must be an http(s) URL (got ${base})`);
    const server = await createServer({ ...(schema ? { schema } : {}), seed: false, config: { db: 'sqlite::memory:', logLevel: 'silent' } });
    try {
      await server.app.ready();
      const doc = serverDocument(server, { api: base, oauth: base, developer: base });
      process.stdout.write(format === 'json' ? `${JSON.stringify(doc, null, 2)}\n` : toYaml(doc));
      return 0;
    } finally {
      await server.close();
    }
  },
};
