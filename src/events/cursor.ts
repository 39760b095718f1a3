/**
 * Event ids are the opaque cursors of the event feed (SPEC §7): `evt_` and the log
 * position in base 36, fixed width, so ids sort as the log does. Clients pass them back
 * as `after`, `Last-Event-ID` or a WebSocket `after`; they never need to read them.
 */
import { errors } from '../errors.js';

const WIDTH = 11; // 36^11 > 2^53: every safe integer position fits

export function encodeEventCursor(seq: number): string {
  return `evt_${seq.toString(36).padStart(WIDTH, '0')}`;
}

/** The position a cursor names; 400 when it is not a cursor Carte made. */
export function decodeEventCursor(cursor: string, name = 'after'): number {
  const m = /^evt_([0-9a-z]{11})$/.exec(cursor);
  const seq = m ? parseInt(m[1] as string, 36) : NaN;
  if (!Number.isSafeInteger(seq)) {
    throw errors.invalidRequest(`The cursor given in ${name} is not valid: use the id of an event (evt_…), or the next-cursor link of a previous page.`);
  }
  return seq;
}
