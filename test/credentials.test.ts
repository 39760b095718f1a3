// A long-lived connection's credential watch (src/events/credentials.ts), as a unit.
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import type { Principal } from '../src/auth/principal.js';
import type { CarteError } from '../src/errors.js';
import { watchCredential } from '../src/events/credentials.js';

test('the expiry timer reports an expiry even when it fires before Date.now() reaches it', () => {
  // Node's timers run on the monotonic clock and may fire a millisecond before the wall clock
  // reaches the expiry; only setTimeout is faked here, so the wall clock is still short of it.
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const principal = { kind: 'token', subject: 'bob', scopes: [], credentialId: 'jti-1', expiresAt: Math.floor(Date.now() / 1000) + 60 } as unknown as Principal;
    const ended: CarteError[] = [];
    watchCredential(principal, null, () => () => undefined, (error) => ended.push(error));
    mock.timers.tick(60_000);
    assert.deepEqual(
      ended.map((e) => e.description),
      ['The access token expired'],
    );
  } finally {
    mock.timers.reset();
  }
});
