/**
 * The owner-rule fixture of the security tests (SPEC §8): boards anyone reads, notes only
 * their owner sees or changes (`owner:ownerId`) on those boards, and comments anyone reads on
 * notes; alice and bob each own a note on one board, and alice commented on hers.
 */
import assert from 'node:assert/strict';
import type { ActionSpec, FieldSpec, ResourceSpec } from '../src/schema/types.js';
import type { TestServer } from './helpers.js';

export interface NotesOptions {
  /** More relations of a note, after `boardId`. */
  readonly references?: Record<string, FieldSpec>;
  /** More fields of a note, after `title`. */
  readonly fields?: Record<string, FieldSpec>;
  readonly actions?: Record<string, ActionSpec>;
}

/** `boards`, `notes` and `comments`, in that order (the fields keep theirs: the CSV columns follow it). */
export function ownerResources(notes: NotesOptions = {}): { boards: ResourceSpec; notes: ResourceSpec; comments: ResourceSpec } {
  return {
    boards: { access: { read: 'public', write: 'scope' }, fields: { name: { type: 'string', search: true } } },
    notes: {
      access: 'owner:ownerId',
      required: ['title'],
      fields: {
        ownerId: { type: 'string' },
        boardId: { type: 'integer', references: 'boards' },
        ...notes.references,
        title: { type: 'string', search: true },
        ...notes.fields,
      },
      ...(notes.actions ? { actions: notes.actions } : {}),
    },
    comments: {
      access: { read: 'public', write: 'authenticated' },
      fields: { noteId: { type: 'integer', references: 'notes', onDelete: 'cascade' }, text: { type: 'string' } },
    },
  };
}

export interface OwnerRows {
  /** Access tokens of alice and bob, without scopes. */
  readonly alice: string;
  readonly bob: string;
  /** The board `Kitchen`. */
  readonly board: number;
  readonly aliceNote: number;
  /** `bob grocery list`, on the board. */
  readonly bobNote: number;
  /** Alice's comment on her note. */
  readonly comment: number;
}

/** Writes the fixture's rows: alice's note is titled `aliceTitle`, her comment says `commentText`. */
export async function seedOwnerRows(t: TestServer, aliceTitle: string, commentText: string): Promise<OwnerRows> {
  const alice = await t.mintToken('alice', []);
  const bob = await t.mintToken('bob', []);
  const board = ((await t.post('/v1/boards', { name: 'Kitchen' })).body as { id: number }).id;
  const a = await t.request('POST', '/v1/notes', { token: alice, body: { title: aliceTitle, boardId: board } });
  assert.equal(a.status, 201, a.text);
  const aliceNote = (a.body as { id: number }).id;
  assert.equal((a.body as { ownerId: string }).ownerId, 'alice', 'the owner field is the caller');
  const bobNote = ((await t.request('POST', '/v1/notes', { token: bob, body: { title: 'bob grocery list', boardId: board } })).body as { id: number }).id;
  const c = await t.request('POST', '/v1/comments', { token: alice, body: { noteId: aliceNote, text: commentText } });
  assert.equal(c.status, 201, c.text);
  return { alice, bob, board, aliceNote, bobNote, comment: (c.body as { id: number }).id };
}
