/**
 * Opens a schema's database for the data commands (`import`, `export`, `serve db.json`):
 * the store migrated as `serve` would (additive changes only), the one resource service
 * over it, and the event recorder, so that a bulk load writes its events like any write.
 */
import type { Principal } from '../auth/principal.js';
import { fromEnv, resolveConfig } from '../config/config.js';
import { EventRecorder } from '../events/recorder.js';
import { loadSchemaFile } from '../schema/load.js';
import type { ApiModel } from '../schema/types.js';
import { ResourceService } from '../service/resource-service.js';
import type { CallContext } from '../service/types.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/store.js';

/** The command line acts for the operator: full scope, like `serve --dev`'s token. */
export const OPERATOR: Principal = Object.freeze({ subject: 'carte-cli', scopes: Object.freeze(['*']) as readonly string[], kind: 'dev' as const });

export interface OpenedService {
  readonly model: ApiModel;
  readonly store: Store;
  readonly service: ResourceService;
  readonly ctx: CallContext;
  close(): Promise<void>;
}

/** Schema file + `--db` (else `CARTE_DB`, else the schema's `config.db`, else `./carte.db`). */
export async function openService(schemaFile: string, db: string | undefined): Promise<OpenedService> {
  const { model } = await loadSchemaFile(schemaFile);
  const config = resolveConfig(model.config, { ...fromEnv(process.env), ...(db ? { db } : {}) });
  const store = await openStore(config.db, { durability: config.durability, poolSize: 2 });
  try {
    // SPEC §10: additive changes apply on start; a destructive one stops here (DestructiveMigrationError).
    await store.applyMigration(await store.planMigration(model));
    store.attach(model);
  } catch (e) {
    await store.close();
    throw e;
  }
  const service = new ResourceService(model, store, { limits: config.limits });
  // Events are appended to the log inside each write transaction (SPEC §7), where a running
  // server's `GET /v1/events` readers find them; live fan-out stays in this process.
  service.addRecorder(new EventRecorder(model, () => undefined));
  const ctx: CallContext = { principal: OPERATOR, baseUrl: config.publicUrl ?? `http://${config.host}:${config.port}` };
  return { model, store, service, ctx, close: () => store.close() };
}
