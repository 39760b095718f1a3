/**
 * Opaque keyset cursors for `?after=` (SPEC §4.3): the sort values of the last row seen,
 * bound to the sort they were made for so a cursor cannot be replayed under another order.
 */
import { createHash } from 'node:crypto';
import { errors } from '../errors.js';
import { memoByText } from '../memo.js';
import type { Scalar, SortKey } from './types.js';

/** Signatures by sort text: a sort is written in few ways, and a page with a next cursor would hash it on every read. */
const signatureOf = memoByText((text) => createHash('sha256').update(text).digest('base64url').slice(0, 8));

function sortSignature(sort: readonly SortKey[]): string {
  return signatureOf(sort.map((k) => `${k.field}.${k.path.join('.')}:${k.descending ? 'd' : 'a'}`).join(','));
}

export function encodeCursor(sort: readonly SortKey[], values: readonly (Scalar | null)[]): string {
  return Buffer.from(JSON.stringify([sortSignature(sort), ...values])).toString('base64url');
}

export function decodeCursor(cursor: string, sort: readonly SortKey[]): (Scalar | null)[] {
  let parsed: unknown;
  try {
    if (cursor.length > 4096 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw new Error('shape');
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw errors.invalidRequest('The cursor given in after is not valid.');
  }
  if (!Array.isArray(parsed) || parsed.length !== sort.length + 1 || parsed[0] !== sortSignature(sort)) {
    throw errors.invalidRequest('The cursor given in after was made for another sort order; keep the sort of the request that returned it.');
  }
  const values = parsed.slice(1);
  if (!values.every((v) => v === null || ['string', 'number', 'boolean'].includes(typeof v))) {
    throw errors.invalidRequest('The cursor given in after is not valid.');
  }
  return values as (Scalar | null)[];
}
