/**
 * Blob fields (SPEC §4.9) as the service sees them: the metadata kept in the row's column,
 * the media-type check, and what a read hands to a front end (size, type, a strong ETag and
 * a way to stream any byte range). The bytes themselves live in a BlobStore.
 */
import type { Readable } from 'node:stream';
import type { FieldModel } from '../schema/types.js';
import type { BlobStore } from '../store/blob-store.js';
import type { Row } from '../store/store.js';

/** The value of a blob column. */
export interface BlobMeta {
  /** BlobStore reference. */
  readonly ref: string;
  readonly contentType: string;
  readonly size: number;
  /** Strong ETag of the bytes (`"<sha-256>"`). */
  readonly etag: string;
  /** ISO 8601 time of the upload (`Last-Modified`). */
  readonly updatedAt: string;
}

/** A blob ready to be sent: metadata, and its bytes on demand. */
export interface BlobContent {
  readonly contentType: string;
  readonly size: number;
  readonly etag: string;
  readonly lastModified: Date;
  /** Streams bytes `start`..`end` inclusive (the whole blob without arguments). */
  open(start?: number, end?: number): Promise<Readable>;
}

/** What a blob upload brings: its declared type and length, and the byte stream. */
export interface BlobUpload {
  readonly contentType: string | undefined;
  /** Content-Length when the client declared it (checked against `maxBytes` before reading). */
  readonly length?: number;
  readonly stream: Readable;
  /** ETags from If-Match, compared with the current blob's. */
  readonly ifMatch?: readonly string[];
}

export function isBlobMeta(value: unknown): value is BlobMeta {
  const v = value as BlobMeta | null;
  return typeof v === 'object' && v !== null && typeof v.ref === 'string' && typeof v.contentType === 'string' && typeof v.size === 'number';
}

/** The media type of a Content-Type header, lower-cased, without parameters. */
export function mediaTypeOf(contentType: string | undefined): string | null {
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  return type && /^[\w.+-]+\/[\w.+-]+$/.test(type) ? type : null;
}

/** `image/png` is accepted by `image/png` or `image/*` (or `*∕*`). */
export function acceptsMediaType(field: FieldModel, type: string): boolean {
  return (field.blob?.mediaTypes ?? []).some((allowed) => {
    const a = allowed.toLowerCase();
    if (a === type || a === '*/*') return true;
    return a.endsWith('/*') && type.startsWith(a.slice(0, -1));
  });
}

export function blobContent(store: BlobStore, meta: BlobMeta): BlobContent {
  return {
    contentType: meta.contentType,
    size: meta.size,
    etag: meta.etag,
    lastModified: new Date(meta.updatedAt),
    open: (start, end) => store.open(meta.ref, start, end),
  };
}

/** Blob files a committed change leaves unreferenced: those of a deleted row, or replaced ones. */
export function orphanedBlobs(blobFields: readonly FieldModel[], before: Row | null, after: Row | null): string[] {
  const refs: string[] = [];
  for (const field of blobFields) {
    const old = before?.[field.name];
    if (!isBlobMeta(old)) continue;
    const now = after?.[field.name];
    if (!isBlobMeta(now) || now.ref !== old.ref) refs.push(old.ref);
  }
  return refs;
}
