/**
 * Where the bytes of `blob` fields live (SPEC §4.9): a BlobStore streams them to and from
 * files, never holding a whole blob in memory. The row's blob column only keeps the
 * metadata (`{ref, contentType, size, etag, updatedAt}`), written in the row's transaction.
 * The file implementation keeps blobs in a directory next to the database.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';

/** A blob written to storage, not yet referenced by any row. */
export interface StoredBlob {
  /** Opaque reference kept in the row. */
  readonly ref: string;
  readonly size: number;
  /** SHA-256 of the bytes, base64url: the blob's strong ETag. */
  readonly digest: string;
}

export interface BlobStore {
  /** Where blobs are kept (for logs and the docs). */
  readonly location: string;
  /**
   * Streams `source` into a new blob: written to a temporary file, fsynced, then renamed
   * into place (atomic). Past `maxBytes` it stops reading, removes what it wrote and
   * rejects with BlobTooLargeError. The source stream is left open (the caller answers).
   */
  put(source: Readable, maxBytes: number): Promise<StoredBlob>;
  /** Bytes `start`..`end` (inclusive) of a blob; BlobMissingError when it is gone. */
  open(ref: string, start?: number, end?: number): Promise<Readable>;
  /** Removes a blob; a missing one is not an error. */
  remove(ref: string): Promise<void>;
  close(): Promise<void>;
}

export class BlobTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`the blob is larger than ${maxBytes} bytes`);
    this.name = 'BlobTooLargeError';
  }
}

/** The source stream failed before its end (the client went away mid-upload). */
export class BlobInterruptedError extends Error {
  constructor(cause: unknown) {
    super('the upload ended before its end', { cause });
    this.name = 'BlobInterruptedError';
  }
}

export class BlobMissingError extends Error {
  constructor(readonly ref: string) {
    super(`blob ${ref} is missing`);
    this.name = 'BlobMissingError';
  }
}

/** `ab/<uuid>`: sharded by the first two hex digits so no directory grows too large. */
const REF = /^[0-9a-f]{2}\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class FileBlobStore implements BlobStore {
  readonly location: string;
  private readonly temp: string;

  /**
   * @param dir the blob directory, created if needed; null for a throw-away one (removed on close).
   */
  constructor(
    dir: string | null,
    private readonly throwAway = dir === null,
  ) {
    this.location = dir ?? mkdtempSync(path.join(os.tmpdir(), 'carte-blobs-'));
    this.temp = path.join(this.location, '.tmp');
    mkdirSync(this.temp, { recursive: true });
    // Leftovers of uploads interrupted by a crash: never referenced, safe to drop.
    for (const name of readdirSync(this.temp)) rmSync(path.join(this.temp, name), { force: true });
  }

  private pathOf(ref: string): string {
    if (!REF.test(ref)) throw new BlobMissingError(ref);
    return path.join(this.location, ref);
  }

  async put(source: Readable, maxBytes: number): Promise<StoredBlob> {
    const id = randomUUID();
    const tmp = path.join(this.temp, id);
    const hash = createHash('sha256');
    const file = await open(tmp, 'wx');
    let size = 0;
    let done = false;
    try {
      // The request stream is not destroyed on an early exit, so the caller can still answer 413.
      for await (const chunk of source.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > maxBytes) throw new BlobTooLargeError(maxBytes);
        hash.update(chunk);
        let offset = 0;
        while (offset < chunk.length) offset += (await file.write(chunk, offset, chunk.length - offset)).bytesWritten;
      }
      await file.sync();
      done = true;
    } catch (e) {
      if (!(e instanceof BlobTooLargeError) && source.errored) throw new BlobInterruptedError(e);
      throw e;
    } finally {
      await file.close();
      if (!done) await rm(tmp, { force: true });
    }
    const ref = `${id.slice(0, 2)}/${id}`;
    const target = this.pathOf(ref);
    await mkdir(path.dirname(target), { recursive: true });
    await rename(tmp, target);
    await syncDir(path.dirname(target));
    return { ref, size, digest: hash.digest('base64url') };
  }

  async open(ref: string, start?: number, end?: number): Promise<Readable> {
    let handle;
    try {
      // Opened before answering: a concurrent replacement may unlink the file, the descriptor keeps it readable.
      handle = await open(this.pathOf(ref), 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new BlobMissingError(ref);
      throw e;
    }
    return handle.createReadStream({ ...(start !== undefined ? { start } : {}), ...(end !== undefined ? { end } : {}), autoClose: true });
  }

  async remove(ref: string): Promise<void> {
    if (!REF.test(ref)) return;
    await rm(this.pathOf(ref), { force: true });
  }

  async close(): Promise<void> {
    if (this.throwAway) rmSync(this.location, { recursive: true, force: true });
  }
}

/** fsync a directory so a rename survives a power loss (best effort: not every platform allows it). */
async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Windows cannot open directories; the rename is still atomic.
  }
}
