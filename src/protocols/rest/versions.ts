/**
 * API versions over HTTP (SPEC §4.10): the path version (`/v1`) is canonical; a request to
 * an unversioned path (`/restaurants`) chooses one by media type (`Accept:
 * application/vnd.carte.v2+json`), by `Api-Version: 2` or by `?version=2`, the current one
 * by default. Two different choices are a 400; a version not served a 404 `unknown_version`
 * listing those that are. Responses of the previous version carry `Deprecation` (RFC 9745)
 * and `Sunset` (RFC 8594).
 */
import { CarteError, errors } from '../../errors.js';
import type { PreviousVersionModel } from '../../schema/types.js';
import { parseAccept } from './negotiate.js';

const VENDOR = /^vnd\.carte\.v(0|[1-9]\d{0,5})\+(json|xml)$/;
const NUMBER = /^v?(0|[1-9]\d{0,5})$/i;

/** The versions named by `application/vnd.carte.vN+json|xml` entries of an Accept header (q > 0). */
export function mediaTypeVersions(accept: string | undefined): Set<number> {
  const out = new Set<number>();
  for (const entry of parseAccept(accept)) {
    const m = entry.type === 'application' ? VENDOR.exec(entry.subtype) : null;
    if (m && entry.q > 0) out.add(Number(m[1]));
  }
  return out;
}

/** The vendor media types of one version, in server preference order. */
export function vendorTypes(version: number): [string, string] {
  return [`application/vnd.carte.v${version}+json`, `application/vnd.carte.v${version}+xml`];
}

export interface VersionChoice {
  /** The version the request addresses. */
  readonly version: number;
  /** A 400 (two different choices) or 404 (`unknown_version`) to answer instead. */
  readonly error?: CarteError;
}

export interface VersionInputs {
  /** From `/vN/…`, absent for an unversioned path. */
  readonly path?: number;
  readonly accept?: string | undefined;
  readonly header?: string | string[] | undefined;
  readonly query?: string | null;
}

/** Settles the version of one request from its path, media type, header and query. */
export function chooseVersion(inputs: VersionInputs, current: number, supported: readonly number[]): VersionChoice {
  const said: { source: string; version: number }[] = [];
  if (inputs.path !== undefined) said.push({ source: `the path /v${inputs.path}`, version: inputs.path });
  const header = Array.isArray(inputs.header) ? inputs.header.join(',') : inputs.header;
  if (header !== undefined && header.trim() !== '') {
    const m = NUMBER.exec(header.trim());
    if (!m) return { version: current, error: errors.invalidRequest(`Api-Version must be a major version number such as ${current} (got '${header}')`) };
    said.push({ source: `Api-Version: ${header.trim()}`, version: Number(m[1]) });
  }
  if (inputs.query !== undefined && inputs.query !== null) {
    const m = NUMBER.exec(inputs.query.trim());
    if (!m) return { version: current, error: errors.invalidRequest(`version must be a major version number such as ${current} (got '${inputs.query}')`) };
    said.push({ source: `?version=${inputs.query}`, version: Number(m[1]) });
  }
  const distinct = [...new Set(said.map((s) => s.version))];
  if (distinct.length > 1) {
    return { version: current, error: errors.invalidRequest(`The API version is chosen twice, differently: ${said.map((s) => s.source).join(', ')}`) };
  }
  const media = mediaTypeVersions(inputs.accept);
  let version = distinct[0];
  if (version !== undefined && media.size > 0 && !media.has(version)) {
    return {
      version: current,
      error: errors.invalidRequest(`The API version is chosen twice, differently: ${said.map((s) => s.source).join(', ')}, and Accept: ${[...media].map((v) => `application/vnd.carte.v${v}+json`).join(', ')}`),
    };
  }
  if (version === undefined && media.size > 0) {
    // Media-type versioning: the best served version the client accepts, else the first it named.
    version = [...media].find((v) => supported.includes(v)) ?? [...media][0];
  }
  version ??= current;
  if (!supported.includes(version)) return { version, error: errors.unknownVersion(String(version), supported) };
  return { version };
}

/** RFC 9745 `Deprecation: @<unix seconds>`, RFC 8594 `Sunset: <HTTP-date>` and their links. */
export function deprecationHeaders(previous: PreviousVersionModel): { deprecation: string; sunset: string; link: string | null } {
  return {
    deprecation: `@${Math.floor(previous.deprecation.getTime() / 1000)}`,
    sunset: previous.sunset.toUTCString(),
    link: previous.link ? `<${previous.link}>; rel="deprecation"; type="text/html", <${previous.link}>; rel="sunset"; type="text/html"` : null,
  };
}
