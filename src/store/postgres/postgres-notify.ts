/**
 * Commit signals between Carte processes on one PostgreSQL schema (SPEC §10). Each write
 * transaction that appends events also calls `pg_notify(channel, '<seq>')`; PostgreSQL
 * delivers a notification only once its transaction commits, and in commit order, so a
 * signal never announces an event a reader cannot see yet. Each process holds one
 * dedicated connection that LISTENs on the channel and reconnects (with backoff) when it
 * drops; after every (re)connection the listener is told to catch up from the log, since
 * notifications sent while nobody listened are gone.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { CommitHandlers, CommitWatch } from '../store.js';

/** PostgreSQL truncates identifiers (channel names included) to 63 bytes. */
const MAX_IDENTIFIER_BYTES = 63;
/** First retry after a lost connection; doubles up to MAX_RETRY_MS. */
const MIN_RETRY_MS = 100;
const MAX_RETRY_MS = 5000;
/**
 * A LISTEN connection is idle, so a peer that vanished without a FIN (a cut network) would
 * go unnoticed for a long time: it is probed this often, and dropped if the probe stalls.
 */
const PROBE_MS = 30_000;
const PROBE_TIMEOUT_MS = 10_000;

/** The channel of one schema's event log: one per schema, so schemas of one database do not hear each other. */
export function commitChannel(schema: string): string {
  const name = `carte_events:${schema}`;
  if (Buffer.byteLength(name) <= MAX_IDENTIFIER_BYTES) return name;
  return `carte_events:${createHash('sha256').update(schema).digest('hex').slice(0, 40)}`;
}

/** `application_name` of the LISTEN connection, so an operator can find it in `pg_stat_activity`. */
export function listenerName(schema: string): string {
  return `carte listen ${schema}`.slice(0, MAX_IDENTIFIER_BYTES);
}

export interface CommitWatchOptions {
  /** The store's connection string (with its `search_path`). */
  readonly connectionString: string;
  readonly schema: string;
  readonly handlers: CommitHandlers;
}

export class PostgresCommitWatch implements CommitWatch {
  private client: pg.Client | null = null;
  private closed = false;
  private retry: NodeJS.Timeout | null = null;
  private probe: NodeJS.Timeout | null = null;
  private delay = MIN_RETRY_MS;
  private connections = 0;
  private readonly channel: string;
  isConnected = false;

  constructor(private readonly options: CommitWatchOptions) {
    this.channel = commitChannel(options.schema);
    void this.connect();
  }

  get reconnects(): number {
    return Math.max(0, this.connections - 1);
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const { handlers } = this.options;
    const client = new pg.Client({
      connectionString: this.options.connectionString,
      application_name: listenerName(this.options.schema),
      keepAlive: true,
      query_timeout: PROBE_TIMEOUT_MS,
    });
    this.client = client;
    let up = false;
    const fail = (error: unknown): void => {
      if (this.client !== client) return; // already handled (an error is often followed by `end`)
      this.client = null;
      this.isConnected = false;
      if (this.probe) clearInterval(this.probe);
      this.probe = null;
      client.removeAllListeners('notification');
      client.end().catch(() => undefined);
      if (this.closed) return;
      handlers.lost(error);
      // A connection that was up is retried at once; one that never came up backs off.
      if (up) this.delay = MIN_RETRY_MS;
      this.retry = setTimeout(() => void this.connect(), this.delay);
      this.retry.unref();
      this.delay = Math.min(this.delay * 2, MAX_RETRY_MS);
    };
    client.on('error', fail);
    client.on('end', () => fail(new Error('the LISTEN connection to PostgreSQL ended')));
    client.on('notification', (message) => {
      if (message.channel !== this.channel) return;
      const seq = Number(message.payload);
      if (Number.isSafeInteger(seq)) handlers.committed(seq);
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel.replace(/"/g, '""')}"`);
    } catch (e) {
      fail(e);
      return;
    }
    if (this.client !== client) return; // closed or failed meanwhile
    up = true;
    this.isConnected = true;
    this.connections++;
    this.delay = MIN_RETRY_MS;
    this.probe = setInterval(() => {
      client.query('SELECT 1').catch((e: unknown) => fail(e));
    }, PROBE_MS);
    this.probe.unref();
    handlers.connected();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    if (this.probe) clearInterval(this.probe);
    const client = this.client;
    this.client = null;
    this.isConnected = false;
    if (client) await client.end().catch(() => undefined);
  }
}
