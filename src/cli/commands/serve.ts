/** `carte serve [SCHEMA]`: serves a schema (or the demo) until SIGTERM/SIGINT. */
import { parseArgs } from 'node:util';
import { createServer } from '../../app.js';
import { fromEnv, type ConfigOverrides } from '../../config/config.js';
import { describeDb } from '../../store/open.js';
import { paint, UsageError, type Command } from '../output.js';

export const serveCommand: Command = {
  name: 'serve',
  summary: 'serve a schema (no SCHEMA: the built-in restaurant demo)',
  usage: `carte serve [SCHEMA] [--db URL] [--port N] [--host H] [--dev] [--tls-cert FILE --tls-key FILE] [--log-level L] [--public-url URL] [--shutdown-timeout D]

  SCHEMA          a .yaml, .json, .ts or .js schema; none serves the demo with sample data
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
    const server = await createServer({ ...(positionals[0] ? { schema: positionals[0] } : {}), config: { ...fromEnv(process.env), ...flags } });
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
