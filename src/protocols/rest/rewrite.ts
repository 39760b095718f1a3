/**
 * Settles, before routing, what a REST request addresses: its API version (path, media
 * type, `Api-Version` or `?version=`, SPEC §4.10) and whether it is JSONP (`.jsonp`,
 * SPEC §4.11). Routes exist once, under the current version's prefix: `/v0/clients` (the
 * previous version) and `/clients` (unversioned) are routed as `/v1/clients` and carry
 * their version in the hints the handlers read. Fastify's `rewriteUrl` runs this.
 */
import { IncomingMessage } from 'node:http';
import type { FastifyRequest } from 'fastify';
import type { CarteError } from '../../errors.js';
import type { JsonpConfig } from '../../config/config.js';
import type { ApiModel } from '../../schema/types.js';
import { JSONP_SUFFIX, readJsonpRequest, type JsonpRequest } from './jsonp.js';
import { chooseVersion } from './versions.js';

export interface RestHints {
  /** The API version the request addresses. */
  readonly version: number;
  /** It is the previous, deprecated version. */
  readonly previous: boolean;
  /** The path had no version (it was chosen by media type, header or query, or defaulted). */
  readonly unversioned: boolean;
  /** Answered instead of routing: a bad version choice, or a bad JSONP callback. */
  readonly error?: CarteError;
  readonly jsonp?: JsonpRequest;
}

/** The hints ride on the raw request (set before Fastify builds its request object). */
const HINTS = Symbol('carte.restHints');
type HintedMessage = IncomingMessage & { [HINTS]?: RestHints };

export function hintsOf(request: FastifyRequest | IncomingMessage): RestHints | undefined {
  return ('raw' in request ? (request.raw as HintedMessage) : (request as HintedMessage))[HINTS];
}

/**
 * Node's request message with the hints' slot from birth (`http.createServer`'s
 * `IncomingMessage` option): setting the hints then changes no object's shape, on every request.
 */
export class HintedIncomingMessage extends IncomingMessage {
  [HINTS]: RestHints | undefined = undefined;
}

function setHints(req: IncomingMessage, value: RestHints): void {
  (req as HintedMessage)[HINTS] = value;
}

const VERSIONED = /^\/v(0|[1-9]\d{0,5})(?=\/|$)/;
/** An Accept header that may name a version by media type (`application/vnd.carte.v2+json`). */
const VENDOR_HINT = /vnd\.carte/i;

export function createRestRewriter(api: ApiModel, jsonp: JsonpConfig): (req: IncomingMessage) => string {
  const current = api.version;
  const supported = api.previous ? [current, api.previous.version] : [current];
  // First path segments that are REST (resources, search, operations): only these are versioned by hints.
  const heads = new Set<string>(['search', ...api.resources.keys(), ...[...api.actions.values()].map((a) => a.path.split('/')[0] as string)]);

  // The common case — a canonical `/v<current>/…` path that chooses no version any other way
  // and is not JSONP — is settled without parsing anything: one shared hint.
  const canonicalPrefix = `/v${current}`;
  const canonical: RestHints = { version: current, previous: false, unversioned: false };
  const isCanonical = (req: IncomingMessage, url: string): boolean => {
    if (!url.startsWith(canonicalPrefix)) return false;
    const next = url.charCodeAt(canonicalPrefix.length);
    // `/v1`, `/v1/…`, `/v1?…` (not `/v10/…`)
    if (!(Number.isNaN(next) || next === 0x2f || next === 0x3f)) return false;
    if (req.headers['api-version'] !== undefined || url.includes('.jsonp') || url.includes('version=')) return false;
    const accept = req.headers.accept;
    return accept === undefined || !VENDOR_HINT.test(accept);
  };

  return (req) => {
    const url = req.url ?? '/';
    if (isCanonical(req, url)) {
      setHints(req, canonical);
      return url;
    }
    const q = url.indexOf('?');
    let path = q === -1 ? url : url.slice(0, q);
    const query = q === -1 ? '' : url.slice(q);
    const versioned = VERSIONED.exec(path);
    const rest = versioned ? path.slice(versioned[0].length) : path;
    const head = rest.split('/')[1] ?? '';
    const isRest = (versioned && rest === '') || heads.has(head.replace(/\.jsonp$/, ''));
    if (!isRest && !versioned) return url;

    let params: URLSearchParams | null = null;
    const paramsOf = () => (params ??= new URLSearchParams(query.slice(1)));
    let jsonpRequest: JsonpRequest | undefined;
    let error: CarteError | undefined;
    if (isRest && jsonp.enabled && path.endsWith(JSONP_SUFFIX)) {
      path = path.slice(0, -JSONP_SUFFIX.length);
      const read = readJsonpRequest(req, paramsOf(), jsonp);
      jsonpRequest = read.jsonp;
      error = read.error;
    }
    const choice = chooseVersion(
      {
        ...(versioned ? { path: Number(versioned[1]) } : {}),
        accept: req.headers.accept,
        header: req.headers['api-version'],
        query: query.includes('version=') ? paramsOf().get('version') : null,
      },
      current,
      supported,
    );
    error ??= choice.error;
    setHints(req, {
      version: choice.version,
      previous: choice.version !== current,
      unversioned: !versioned,
      ...(error ? { error } : {}),
      ...(jsonpRequest ? { jsonp: jsonpRequest } : {}),
    });
    if (!isRest || error) return url;
    const tail = versioned ? path.slice(versioned[0].length) : path;
    return `/v${current}${tail}${query}`;
  };
}
