/**
 * Types of the schema as its author writes it (`*Spec`) and of the normalized model the
 * rest of Carte reads (`*Model`). Loading turns the first into the second once, so no
 * other room re-derives names, relations or defaults.
 */

export type FieldType = 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'object' | 'blob';
export type StringFormat = 'date-time' | 'date' | 'email' | 'uri' | 'uuid';
export type OnDelete = 'restrict' | 'cascade' | 'setNull';
export type AccessRule = string; // public | authenticated | scope:<name> | owner:<field> (section 8)

/** A JSON value, as bodies and defaults carry them. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** A field definition: a JSON Schema (draft 2020-12 subset) plus a few Carte keys. */
export interface FieldSpec {
  type: FieldType;
  description?: string;
  format?: StringFormat;
  enum?: readonly (string | number)[];
  default?: Json;
  readOnly?: boolean;
  nullable?: boolean;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  items?: FieldSpec;
  properties?: Record<string, FieldSpec>;
  required?: readonly string[];
  examples?: readonly Json[];
  /** Carte: makes a relation to another resource (SPEC §2). */
  references?: string;
  /** Carte: what deleting the referenced item does (default restrict → 409). */
  onDelete?: OnDelete;
  /** Carte: name of the reverse (to-many) relation when the default would be ambiguous. */
  reverse?: string;
  /** Carte: create an index (`unique` for a unique one). */
  index?: boolean | 'unique';
  unique?: boolean;
  /** Carte: put the field in the resource's search index (SPEC §4.6). */
  search?: boolean;
  /** Carte: makes the field a state machine: `{from: [to, …]}` (SPEC §4.8). */
  transitions?: Record<string, readonly string[]>;
  /** Carte, blobs only (SPEC §4.9). */
  mediaTypes?: readonly string[];
  maxBytes?: number;
}

/** JSON Schema for action inputs and outputs (free-form, validated by Ajv). */
export type JsonSchema = { [key: string]: unknown };

export interface ActionContext {
  readonly principal: { readonly subject: string | null; readonly scopes: readonly string[] };
  /** For item actions: the item the action is called on, as the caller may read it. */
  readonly item?: JsonObject;
}

export type ActionHandler = (input: Json, context: ActionContext) => Json | Promise<Json>;

export interface ActionSpec {
  summary?: string;
  description?: string;
  input?: JsonSchema;
  output?: JsonSchema;
  /** A function (module schemas), or `./file.js#export` relative to the schema file. */
  handler?: ActionHandler | string;
  access?: AccessRule;
}

export interface AccessSpec {
  read?: AccessRule;
  write?: AccessRule;
  create?: AccessRule;
  update?: AccessRule;
  delete?: AccessRule;
}

export interface ResourceSpec {
  singular?: string;
  description?: string;
  maxRange?: number;
  access?: AccessSpec | AccessRule;
  required?: readonly string[];
  key?: { type: 'integer' } | { type: 'string'; format: 'uuid' };
  fields: Record<string, FieldSpec>;
  /** Composite indexes: `[[type, rating]]`. */
  indexes?: readonly (readonly string[])[];
  requireIfMatch?: boolean;
  /** Item actions: `POST /v1/<resource>/{id}/<name>`. */
  actions?: Record<string, ActionSpec>;
  /** The item action `POST /v1/<resource>/{id}` runs (otherwise 405). */
  defaultAction?: string;
}

export interface ConfigSpec {
  limits?: {
    bodyBytes?: number;
    bulkItems?: number;
    filters?: number;
    queryBytes?: number;
    fieldsDepth?: number;
    rpcBatchSize?: number;
    rpcBodyBytes?: number;
    graphqlDepth?: number;
    graphqlCost?: number;
    graphqlAliases?: number;
    graphqlBatchSize?: number;
    graphqlTokens?: number;
  };
  [section: string]: unknown;
}

/**
 * How a field of the previous version is computed from the current item (SPEC §4.10):
 * `from` renames a field; `join` shows an object field's parts as one string (seed 003:
 * v1 `address` "1 Microsoft Way, Redmond, WA, 98053" ↔ v2 `{streetAddress, city, state, zipCode}`).
 * Both run both ways: reads render the old shape, writes through the old version are converted.
 */
export type PreviousFieldSpec =
  | { from: string }
  | { join: string; parts: readonly string[]; separator?: string };

export interface PreviousResourceSpec {
  /** Current fields the previous version does not show (kept as they are by its writes). */
  omit?: readonly string[];
  /** Fields of the previous version, by their old name. */
  fields?: Record<string, PreviousFieldSpec>;
}

/** The one older major version a schema may keep alive (seed 004: at most two in parallel). */
export interface PreviousVersionSpec {
  /** Its number: `/v<version>`; lower than `api.version`. */
  version: number;
  /** When it was deprecated (RFC 9745 `Deprecation`), an ISO 8601 date-time. */
  deprecation: string | Date;
  /** When it stops answering (RFC 8594 `Sunset`), an ISO 8601 date-time. */
  sunset: string | Date;
  /** A page about moving to the current version (`Link: <…>; rel="deprecation"`). */
  link?: string;
  resources?: Record<string, PreviousResourceSpec>;
}

export interface ApiSpec {
  api: {
    name: string;
    version?: number;
    description?: string;
    casing?: 'camel' | 'snake';
  };
  resources: Record<string, ResourceSpec>;
  actions?: Record<string, ActionSpec>;
  /** One older major version still served, with its per-resource mapping (SPEC §4.10). */
  previousVersion?: PreviousVersionSpec;
  config?: ConfigSpec;
}

// ---------------------------------------------------------------------------------------
// Normalized model

export interface FieldModel {
  readonly name: string;
  readonly type: FieldType;
  readonly spec: FieldSpec;
  readonly readOnly: boolean;
  /** Set by Carte (id, createdAt, updatedAt): never taken from a body. */
  readonly managed: 'createdAt' | 'updatedAt' | null;
  readonly required: boolean;
  readonly nullable: boolean;
  readonly default: Json | undefined;
  readonly enum: readonly (string | number)[] | undefined;
  readonly format: StringFormat | undefined;
  readonly index: 'plain' | 'unique' | null;
  readonly search: boolean;
  readonly reference: ReferenceModel | null;
  readonly transitions: Readonly<Record<string, readonly string[]>> | null;
  readonly blob: { readonly mediaTypes: readonly string[]; readonly maxBytes: number } | null;
}

export interface ReferenceModel {
  /** Name of the referenced resource (`clients`). */
  readonly resource: string;
  /** To-one relation name on the child (`client`). */
  readonly relation: string;
  /** To-many relation name on the parent (`orders`). */
  readonly reverse: string;
  readonly onDelete: OnDelete;
}

export interface RelationModel {
  readonly name: string;
  readonly kind: 'one' | 'many';
  /** The resource holding the foreign key. */
  readonly child: string;
  /** The foreign-key field on the child (`clientId`). */
  readonly field: string;
  /** The referenced resource. */
  readonly parent: string;
  /** The resource on the other end from this side. */
  readonly target: string;
}

export interface AccessModel {
  readonly read: AccessRule;
  readonly create: AccessRule;
  readonly update: AccessRule;
  readonly delete: AccessRule;
}

export interface ActionModel {
  readonly name: string;
  /** `calculator/sum` → path segments; RPC method `calculator.sum`. */
  readonly path: string;
  readonly rpcName: string;
  readonly spec: ActionSpec;
  readonly handler: ActionHandler | null;
  readonly access: AccessRule;
  /** Set for item actions. */
  readonly resource: string | null;
}

export interface ResourceModel {
  readonly name: string;
  readonly singular: string;
  readonly description: string | undefined;
  readonly key: { readonly name: 'id'; readonly type: 'integer' | 'uuid' };
  readonly fields: ReadonlyMap<string, FieldModel>;
  /** Declared order; does not include the key. */
  readonly fieldList: readonly FieldModel[];
  readonly maxRange: number;
  readonly access: AccessModel;
  readonly relations: ReadonlyMap<string, RelationModel>;
  readonly indexes: readonly (readonly string[])[];
  readonly requireIfMatch: boolean;
  readonly timestamps: { readonly createdAt: string | null; readonly updatedAt: string | null };
  readonly stateField: FieldModel | null;
  readonly searchFields: readonly FieldModel[];
  readonly blobFields: readonly FieldModel[];
  readonly actions: ReadonlyMap<string, ActionModel>;
  readonly defaultAction: string | null;
}

export type PreviousFieldModel =
  | { readonly kind: 'rename'; readonly name: string; readonly source: string }
  | { readonly kind: 'join'; readonly name: string; readonly source: string; readonly parts: readonly string[]; readonly separator: string };

export interface PreviousResourceModel {
  /** Current fields hidden from the previous version. */
  readonly omit: ReadonlySet<string>;
  /** Old name → mapping. */
  readonly fields: ReadonlyMap<string, PreviousFieldModel>;
  /** Current (source) field → mapping. */
  readonly bySource: ReadonlyMap<string, PreviousFieldModel>;
}

export interface PreviousVersionModel {
  readonly version: number;
  readonly deprecation: Date;
  readonly sunset: Date;
  readonly link: string | null;
  /** Resources whose representation differs; the others are the same in both versions. */
  readonly resources: ReadonlyMap<string, PreviousResourceModel>;
}

export interface ApiModel {
  readonly name: string;
  readonly version: number;
  /** The older major version still served, or null. */
  readonly previous: PreviousVersionModel | null;
  readonly description: string | undefined;
  readonly casing: 'camel' | 'snake';
  readonly resources: ReadonlyMap<string, ResourceModel>;
  readonly actions: ReadonlyMap<string, ActionModel>;
  readonly config: ConfigSpec;
  /** The spec it came from, for generators (OpenAPI) that want the authored text. */
  readonly spec: ApiSpec;
}

/** Reserved query parameters: no field may carry these names (SPEC §2). */
export const RESERVED_NAMES: readonly string[] = [
  'range', 'limit', 'offset', 'sort', 'desc', 'fields', 'q', 'callback', 'method', 'version', 'wait',
  'after', 'access_token', 'links',
];
