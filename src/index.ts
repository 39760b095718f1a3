/** Carte's public API: build a server from a schema, or type a schema module. */
export { createServer, type CarteServer, type ServerOptions } from './app.js';
export { defineApi } from './schema/define.js';
export type { ApiSpec, ResourceSpec, FieldSpec, ActionSpec, ActionHandler, ActionContext, Json } from './schema/types.js';
export { CarteError, errors } from './errors.js';
export type { Principal } from './auth/principal.js';
