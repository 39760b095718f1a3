/**
 * Credentials of long-lived connections (SPEC §8): a WebSocket or an event stream is
 * authenticated once, at its start, yet must stop when its token or API key stops working —
 * at its expiry (a timer), and when it is revoked (checked again at every heartbeat, and
 * before every JSON-RPC call on a socket). Without this, a revoked token kept on an open
 * socket would go on hearing events and calling the service.
 */
import type { Principal } from '../auth/principal.js';
import { errors, type CarteError } from '../errors.js';

/** Whether a principal's credential still works: not revoked, not expired. Never throws. */
export type CredentialCheck = (principal: Principal) => Promise<boolean>;

/** Node's timers overflow past 2^31-1 ms (~24.8 days): longer waits are re-armed. */
const MAX_TIMER = 2_147_483_647;

/** The error a connection ends with when its credential expired or was revoked. */
export function credentialEnded(principal: Principal, now: number): CarteError {
  if (principal.expiresAt !== undefined && principal.expiresAt * 1000 <= now) {
    return errors.invalidToken(principal.kind === 'key' ? 'The API key expired' : 'The access token expired');
  }
  return errors.invalidToken(principal.kind === 'key' ? 'The API key was revoked' : 'The access token was revoked');
}

/**
 * Watches one connection's credential: `onEnd` is called once, with the error to report,
 * when it expires or a check finds it revoked. Returns the function that stops watching.
 */
export function watchCredential(
  principal: Principal,
  check: CredentialCheck | null,
  onHeartbeat: (fn: () => void) => () => void,
  onEnd: (error: CarteError) => void,
): () => void {
  if (principal.kind === 'anonymous') return () => undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  const end = (now = Date.now()) => {
    if (stopped) return;
    stop();
    onEnd(credentialEnded(principal, now));
  };
  // The expiry timer may fire a millisecond before Date.now() reaches the expiry (timers run on
  // the monotonic clock): when it fires, the credential has expired, whatever Date.now() says.
  const expire = () => end(Math.max(Date.now(), (principal.expiresAt ?? 0) * 1000));
  const arm = () => {
    if (principal.expiresAt === undefined || stopped) return;
    const ms = principal.expiresAt * 1000 - Date.now();
    if (ms <= 0) return expire();
    timer = setTimeout(ms > MAX_TIMER ? arm : expire, Math.min(ms, MAX_TIMER));
    timer.unref();
  };
  let checking = false;
  const stopBeat = check
    ? onHeartbeat(() => {
        if (checking || stopped) return;
        checking = true;
        void check(principal)
          .then((valid) => {
            if (!valid) end();
          })
          .finally(() => {
            checking = false;
          });
      })
    : () => undefined;
  function stop(): void {
    stopped = true;
    if (timer) clearTimeout(timer);
    stopBeat();
  }
  arm();
  return stop;
}
