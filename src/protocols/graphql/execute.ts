/**
 * Runs GraphQL requests with graphql-js, independent of the transport: parse (token-bounded,
 * cached), validate (cached), the limits, variables, execute; and maps every error to one
 * carrying `extensions.code` from the error table (SPEC §3, §6). Failures inside Carte never
 * show their message: they are logged and answered as `server_error`.
 */
import {
  execute,
  getOperationAST,
  GraphQLError,
  parse,
  specifiedRules,
  validate,
  getVariableValues,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SourceLocation,
} from 'graphql';
import { CarteError, errors, toCarteError } from '../../errors.js';
import type { ResourceService } from '../../service/resource-service.js';
import type { CallContext } from '../../service/types.js';
import { buildGraphqlSchema, type GraphqlContext, type GraphqlTypes, type SchemaExtensions } from './build-schema.js';
import { checkAliases, checkOperation, type Analysis, type GraphqlLimits } from './limits.js';

export interface GraphqlRuntime {
  readonly schema: GraphQLSchema;
  readonly types: GraphqlTypes;
  readonly limits: GraphqlLimits;
  /** Parsed and validated documents by text (most recently used last). */
  readonly documents: Map<string, DocumentNode | Problem[]>;
}

/** Operations without variables that passed the limits (keyed by their node in a cached document). */
const analysed = new WeakMap<OperationDefinitionNode, Analysis>();

/** Documents kept parsed and validated; queries longer than this are not cached. */
const CACHE_SIZE = 1000;
const CACHE_TEXT = 20_000;

export function createGraphqlRuntime(service: ResourceService, limits: GraphqlLimits, extensions: SchemaExtensions = {}): GraphqlRuntime {
  const { schema, types } = buildGraphqlSchema(service, extensions);
  return { schema, types, limits, documents: new Map() };
}

/** One GraphQL-over-HTTP request: `{query, variables, operationName}`. */
export interface GraphqlRequest {
  readonly query?: unknown;
  readonly variables?: unknown;
  readonly operationName?: unknown;
  readonly extensions?: unknown;
}

export interface GraphqlOutcome {
  /** The response body: `{data, errors}` (no `data` for a request error). */
  readonly body: { data?: unknown; errors?: GraphQLFormattedError[]; extensions?: Record<string, unknown> };
  /** A request error (nothing was executed): 400 under application/graphql-response+json. */
  readonly requestError: boolean;
  /** Set when HTTP must say more: 405 for a mutation over GET. */
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface RunOptions {
  /** GET may only run queries (GraphQL over HTTP: no mutations over GET). */
  readonly method: 'GET' | 'POST';
  readonly log?: (error: unknown) => void;
}

/** A request-level problem, with where it is in the document when known. */
interface Problem {
  readonly error: CarteError;
  readonly locations?: readonly SourceLocation[] | undefined;
}

/** A CarteError as a GraphQL error: message, and `extensions.code` with the REST error's members. */
export function carteToGraphql(error: CarteError, baseUrl: string, located?: { readonly locations?: readonly SourceLocation[] | undefined; readonly path?: readonly (string | number)[] | undefined }): GraphQLFormattedError {
  const extensions: Record<string, unknown> = { code: error.code, status: error.status, error_uri: `${baseUrl}/docs/errors#${error.code}` };
  if (error.errors && error.errors.length > 0) extensions.errors = error.errors;
  if (error.extra) for (const [k, v] of Object.entries(error.extra)) if (!(k in extensions)) extensions[k] = v;
  return {
    message: error.kind === 'server_error' ? 'Oops! Something went wrong...' : error.description,
    ...(located?.locations ? { locations: located.locations } : {}),
    ...(located?.path ? { path: located.path } : {}),
    extensions,
  };
}

/** Any error graphql-js reports → a formatted error with a code from the table. */
export function formatError(error: GraphQLError, baseUrl: string, log: RunOptions['log']): GraphQLFormattedError {
  const original = error.originalError;
  if (original instanceof CarteError) {
    if (original.status >= 500) log?.(original.cause ?? original);
    return carteToGraphql(original, baseUrl, error);
  }
  if (original && !(original instanceof GraphQLError)) {
    // A failure inside Carte (or a value the schema cannot serialize): logged, never shown.
    log?.(original);
    return carteToGraphql(errors.serverError(original), baseUrl, error);
  }
  // GraphQL's own errors (syntax, validation, variables): the request is not understood.
  return carteToGraphql(new CarteError('invalid_request', error.message), baseUrl, error);
}

function requestError(list: readonly (CarteError | Problem)[], baseUrl: string, extra: Partial<GraphqlOutcome> = {}): GraphqlOutcome {
  const problems = list.map((p) => (p instanceof CarteError ? { error: p } : p));
  return { body: { errors: problems.map((p) => carteToGraphql(p.error, baseUrl, p)) }, requestError: true, ...extra };
}

/** Parse and validate, or the errors that prevent it; cached by text. */
function documentOf(runtime: GraphqlRuntime, query: string): DocumentNode | Problem[] {
  const cached = runtime.documents.get(query);
  if (cached) {
    runtime.documents.delete(query);
    runtime.documents.set(query, cached);
    return cached;
  }
  let outcome: DocumentNode | Problem[];
  try {
    const document = parse(query, { maxTokens: runtime.limits.graphqlTokens, noLocation: false });
    const problems = validate(runtime.schema, document, specifiedRules);
    if (problems.length > 0) outcome = problems.map((p) => ({ error: new CarteError('invalid_request', p.message), locations: p.locations }));
    else {
      checkAliases(document, runtime.limits);
      outcome = document;
    }
  } catch (e) {
    if (e instanceof CarteError) outcome = [{ error: e }];
    else if (e instanceof GraphQLError) {
      const tooLong = /tokens/i.test(e.message);
      const error = tooLong ? errors.queryTooComplex(`The document has more than ${runtime.limits.graphqlTokens} tokens.`, { limit: runtime.limits.graphqlTokens }) : new CarteError('invalid_request', e.message);
      outcome = [{ error, locations: e.locations }];
    } else throw e;
  }
  if (query.length <= CACHE_TEXT) {
    if (runtime.documents.size >= CACHE_SIZE) runtime.documents.delete(runtime.documents.keys().next().value as string);
    runtime.documents.set(query, outcome);
  }
  return outcome;
}

/** An operation ready to run: parsed, validated, within the limits, its variables coerced. */
export interface PreparedOperation {
  readonly document: DocumentNode;
  readonly operation: OperationDefinitionNode;
  readonly operationName: string | undefined;
  readonly variables: Record<string, unknown>;
}

/**
 * Checks one request up to the point of running it, whatever the transport: the request's
 * shape, parse and validation (cached), the operation to run, variables, then the alias,
 * depth and cost limits (SPEC §6). `allow` names the operation kinds the transport serves.
 */
export function prepareOperation(runtime: GraphqlRuntime, request: unknown, baseUrl: string, allow: { readonly method: 'GET' | 'POST'; readonly subscriptions: boolean }): PreparedOperation | GraphqlOutcome {
  const base = baseUrl;
  if (typeof request !== 'object' || request === null || Array.isArray(request)) {
    return requestError([errors.invalidRequest('A GraphQL request is an object: {"query": "…", "variables": {…}, "operationName": "…"}.')], base);
  }
  const { query, variables, operationName } = request as GraphqlRequest;
  if (typeof query !== 'string' || query.trim() === '') return requestError([errors.invalidRequest('The request has no query: send {"query": "{ … }"}.')], base);
  if (variables !== undefined && variables !== null && (typeof variables !== 'object' || Array.isArray(variables))) {
    return requestError([errors.invalidRequest('variables must be an object.')], base);
  }
  if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') {
    return requestError([errors.invalidRequest('operationName must be a string.')], base);
  }
  const document = documentOf(runtime, query);
  if (Array.isArray(document)) return requestError(document, base);
  const operation = getOperationAST(document, (operationName as string | null | undefined) ?? undefined);
  if (!operation) {
    return requestError([errors.invalidRequest(operationName ? `There is no operation named '${String(operationName)}' in the document.` : 'The document has several operations: name the one to run with operationName.')], base);
  }
  if (allow.method === 'GET' && operation.operation !== 'query') {
    const e = errors.methodNotAllowed('GET', ['POST'], `A ${operation.operation} is sent with POST; GET runs queries only.`);
    return requestError([e], base, { status: 405, headers: { Allow: 'GET, POST' } });
  }
  if (operation.operation === 'subscription' && !allow.subscriptions) {
    return requestError([errors.invalidRequest('Subscriptions are served over WebSocket (graphql-ws), not over HTTP.')], base);
  }
  const coerced = getVariableValues(runtime.schema, operation.variableDefinitions ?? [], (variables as Record<string, unknown> | null | undefined) ?? {}, { maxErrors: 25 });
  if (coerced.errors) return requestError(coerced.errors.map((e) => ({ error: new CarteError('invalid_request', e.message), locations: e.locations })), base);
  try {
    // An operation without variables costs the same every time: checked once per cached document.
    const constant = (operation.variableDefinitions ?? []).length === 0;
    const checked = constant ? analysed.get(operation) : undefined;
    if (!checked) {
      const analysis = checkOperation(runtime.schema, runtime.types, document, operation, coerced.coerced, runtime.limits);
      if (constant) analysed.set(operation, analysis);
    }
  } catch (e) {
    return requestError([toCarteError(e)], base);
  }
  return { document, operation, operationName: (operationName as string | null | undefined) ?? undefined, variables: (variables as Record<string, unknown> | null | undefined) ?? {} };
}

/** Runs one request; request-level problems come back as a request error (no `data`). */
export async function runGraphql(runtime: GraphqlRuntime, request: unknown, call: CallContext, options: RunOptions): Promise<GraphqlOutcome> {
  const base = call.baseUrl;
  const prepared = prepareOperation(runtime, request, base, { method: options.method, subscriptions: false });
  if (!('document' in prepared)) return prepared;
  const { document, operationName, variables } = prepared;
  const context: GraphqlContext = { call };
  const result = (await execute({
    schema: runtime.schema,
    document,
    ...(operationName ? { operationName } : {}),
    variableValues: variables,
    contextValue: context,
  })) as ExecutionResult;
  const body: GraphqlOutcome['body'] = { ...(result.errors ? { errors: result.errors.map((e) => formatError(e, base, options.log)) } : {}), data: result.data ?? null };
  return { body, requestError: false };
}

/** A batch (a JSON array of requests): run in order, one result each. */
export async function runGraphqlBatch(runtime: GraphqlRuntime, requests: readonly unknown[], call: CallContext, options: RunOptions): Promise<GraphqlOutcome[] | GraphqlOutcome> {
  if (requests.length === 0) return requestError([errors.invalidRequest('An empty batch: send at least one request.')], call.baseUrl);
  if (requests.length > runtime.limits.graphqlBatchSize) {
    return requestError([errors.queryTooComplex(`A batch may carry at most ${runtime.limits.graphqlBatchSize} operations; this one has ${requests.length}.`, { limit: runtime.limits.graphqlBatchSize, actual: requests.length })], call.baseUrl);
  }
  const out: GraphqlOutcome[] = [];
  for (const r of requests) out.push(await runGraphql(runtime, r, call, options));
  return out;
}
