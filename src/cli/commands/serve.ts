/** `carte serve [SCHEMA]`: serves a schema (or the demo) until SIGTERM/SIGINT. */
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createServer } from '../../app.js';
import { fromEnv, type ConfigOverrides } from '../../config/config.js';
import { describeDb } from '../../store/open.js';
import { defaultDbFor, importInferred, inferFile, looksLikeJsonServerFile, schemaYaml } from '../json-server.js';
import { OPERATOR } from '../open-service.js';
import { paint, UsageError, type Command } from '../output.js';

export const serveCommand: Command = {
  name: 'serve',
  summary: 'serve a schema (no SCHEMA: the built-in restaurant demo)',
  usage: `carte serve [SCHEMA] [--db URL] [--port N] [--host H] [--dev] [--tls-cert FILE --tls-key FILE] [--log-level L] [--public-url URL] [--shutdown-timeout D]

  SCHEMA          a .yaml, .json, .ts or .js schema; none serves the demo with sample data;
                  or a json-server db.json: its schema is inferred and, when the database
                  is new, its data imported (default database: db.carte.db next to it)
  --print-schema  with a json-server file: print the inferred schema (YAML) and exit
  --db URL        ./carte.db (default), sqlite:PATH, sqlite::memory:,
                  postgres://USER@HOST:PORT/DATABASE[?schema=NAME]
  --port N        default 3000 (CARTE_PORT)
  --host H        default 127.0.0.1 (CARTE_HOST)
  --dev           development mode: prints a bearer token with full scope on the start line
  --tls-cert FILE PEM certificate (chain): serve HTTPS, HTTP/2 and HTTP/1.1, with HSTS (CARTE_TLS_CERT)
  --tls-key FILE  its PEM private key (CARTE_TLS_KEY)
  --log-level     fatal, error, warn, info (default), debug, trace, silent
  --public-url    absolute base URL for links when behind a proxy
  --shutdown-timeout D  bound on a graceful shutdown (SIGTERM), seconds or 30s/1m; default 10 (CARTE_SHUTDOWN_TIMEOUT)`,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        db: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        dev: { type: 'boolean' },
        'log-level': { type: 'string' },
        'public-url': { type: 'string' },
        'shutdown-timeout': { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'print-schema': { type: 'boolean' },
      },
    });
    if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
    if (positionals.length > 1) throw new UsageError('usage: carte serve [SCHEMA] [--db URL] [--port N] [--host H] [--dev]');
    const flags: ConfigOverrides = {
      ...(values.db ? { db: values.db } : {}),
      ...(values.port ? { port: Number(values.port) } : {}),
      ...(values.host ? { host: values.host } : {}),
      ...(values.dev ? { dev: true } : {}),
      ...(values['log-level'] ? { logLevel: values['log-level'] as ConfigOverrides['logLevel'] } : {}),
      ...(values['public-url'] ? { publicUrl: values['public-url'] } : {}),
      ...(values['shutdown-timeout'] ? { shutdownTimeout: /^\d+(\.\d+)?$/.test(values['shutdown-timeout']) ? Number(values['shutdown-timeout']) : values['shutdown-timeout'] } : {}),
      ...(values['tls-cert'] && values['tls-key'] ? { tls: { cert: values['tls-cert'], key: values['tls-key'] } } : {}),
    };
    // SPEC §1: a json-server database file is served with an inferred schema and its data.
    const jsonServer = positionals[0] !== undefined && looksLikeJsonServerFile(positionals[0]) ? { file: positionals[0], inferred: inferFile(positionals[0]) } : null;
    if (values['print-schema']) {
      if (!jsonServer) throw new UsageError('--print-schema goes with a json-server database file (carte serve db.json --print-schema)');
      process.stdout.write(schemaYaml(jsonServer.file, jsonServer.inferred));
      return 0;
    }
    const env = fromEnv(process.env);
    const dataDb = jsonServer && !flags.db && !env.db ? { db: defaultDbFor(jsonServer.file) } : {};
    const schema = jsonServer ? jsonServer.inferred.spec : positionals[0];
    const server = await createServer({ ...(schema ? { schema } : {}), config: { ...env, ...flags, ...dataDb } });
    if (jsonServer) {
      // The data is imported once, into the database the schema was just created in; later
      // starts serve what the database holds (changes are kept there, never written to db.json).
      const fresh = server.migrated.filter((s) => s.kind === 'createTable').length >= server.model.resources.size;
      for (const note of jsonServer.inferred.notes) process.stderr.write(`${paint.dim(`note: ${note}`, process.stderr)}\n`);
      if (fresh) {
        try {
          const n = await importInferred(server.service, { principal: OPERATOR, baseUrl: '' }, jsonServer.inferred, jsonServer.file);
          process.stderr.write(`imported ${n} item${n === 1 ? '' : 's'} from ${jsonServer.file} into ${describeDb(server.config.db).location}\n`);
        } catch (e) {
          await server.close();
          // A half-made database would be served empty on the next start: it goes.
          const db = describeDb(server.config.db);
          if (db.kind === 'sqlite' && db.location !== ':memory:') for (const f of [db.location, `${db.location}-wal`, `${db.location}-shm`]) rmSync(f, { force: true });
          throw e;
        }
      } else {
        process.stderr.write(`serving the data already in ${describeDb(server.config.db).location} (imported from ${jsonServer.file} on first start; delete it to import again)\n`);
      }
    }
    const url = await server.listen();
    const base = server.config.publicUrl ?? url;
    const db = describeDb(server.config.db);
    // SPEC §1: with --dev, a development bearer token with full scope, on the start line.
    const dev = server.config.dev ? ` — dev mode, token ${await server.auth.issueDevToken(server.auth.context(base))}` : '';
    for (const warning of server.warnings) process.stderr.write(`${paint.red(`warning: ${warning}`)}\n`);
    process.stdout.write(
      `${paint.bold('Carte')} serving ${server.model.name}${server.isDemo ? ' (demo)' : ''} — API ${base}${server.service.prefix} — docs ${base}/docs — ${db.kind} ${db.location}${dev}\n`,
    );
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      server.app.log.info({ signal }, 'shutting down');
      // close() is bounded by shutdownTimeout; this is the last resort if the store hangs.
      const force = setTimeout(() => process.exit(1), server.config.shutdownTimeout + 5000);
      force.unref();
      server.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    return new Promise<number>(() => undefined); // runs until a signal
  },
};
