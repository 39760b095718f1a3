/**
 * Where webhooks may not go (SPEC §7, OWASP SSRF prevention): link-local and cloud metadata
 * addresses never; private and loopback addresses only with `webhooks.allowPrivateNetworks`.
 * The check runs at registration and again when connecting — a `lookup` that resolves, checks
 * every address, and hands the socket only a checked one — so a name re-pointed after
 * registration (DNS rebinding) cannot reach inside.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/** Never reachable: link-local (cloud metadata lives there), metadata hosts, unspecified, multicast, broadcast. */
const FORBIDDEN = new BlockList();
FORBIDDEN.addSubnet('0.0.0.0', 8, 'ipv4');
FORBIDDEN.addSubnet('169.254.0.0', 16, 'ipv4');
FORBIDDEN.addAddress('100.100.100.200', 'ipv4'); // Alibaba Cloud metadata
FORBIDDEN.addAddress('192.0.0.192', 'ipv4'); // Oracle Cloud metadata
FORBIDDEN.addSubnet('224.0.0.0', 4, 'ipv4');
FORBIDDEN.addSubnet('240.0.0.0', 4, 'ipv4');
FORBIDDEN.addSubnet('::', 128, 'ipv6');
FORBIDDEN.addSubnet('fe80::', 10, 'ipv6');
FORBIDDEN.addAddress('fd00:ec2::254', 'ipv6'); // AWS metadata over IPv6
FORBIDDEN.addSubnet('ff00::', 8, 'ipv6');

/** Inside: loopback, RFC 1918, shared address space, benchmarking, unique local, NAT64. */
const PRIVATE = new BlockList();
PRIVATE.addSubnet('127.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('10.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('172.16.0.0', 12, 'ipv4');
PRIVATE.addSubnet('192.168.0.0', 16, 'ipv4');
PRIVATE.addSubnet('100.64.0.0', 10, 'ipv4');
PRIVATE.addSubnet('192.0.0.0', 24, 'ipv4');
PRIVATE.addSubnet('198.18.0.0', 15, 'ipv4');
PRIVATE.addSubnet('::1', 128, 'ipv6');
PRIVATE.addSubnet('fc00::', 7, 'ipv6');
PRIVATE.addSubnet('64:ff9b::', 96, 'ipv6');

export type AddressVerdict = 'public' | 'private' | 'forbidden';

/** `::ffff:10.0.0.1` is 10.0.0.1. */
function unmapped(address: string): { address: string; family: 'ipv4' | 'ipv6' } {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (m) return { address: m[1] as string, family: 'ipv4' };
  return { address, family: isIP(address) === 6 ? 'ipv6' : 'ipv4' };
}

export function classifyAddress(raw: string): AddressVerdict {
  const { address, family } = unmapped(raw.replace(/^\[|\]$/g, '').replace(/%.*$/, ''));
  if (isIP(address) === 0) return 'forbidden';
  if (FORBIDDEN.check(address, family)) return 'forbidden';
  if (PRIVATE.check(address, family)) return 'private';
  return 'public';
}

/** Why an address may not be called, or null when it may. */
export function refusal(address: string, allowPrivate: boolean): string | null {
  const verdict = classifyAddress(address);
  if (verdict === 'forbidden') return `${address} is a link-local, metadata or reserved address, which webhooks never call`;
  if (verdict === 'private' && !allowPrivate) return `${address} is a private or loopback address (set webhooks.allowPrivateNetworks to allow it)`;
  return null;
}

export class AddressRefusedError extends Error {
  readonly code = 'EWEBHOOKADDRESS';
}

function resolveAll(hostname: string, family: number): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true, family: family === 4 || family === 6 ? family : 0 }, (err, addresses) => (err ? reject(err) : resolve(addresses))),
  );
}

/** Resolves a host and checks every address; throws AddressRefusedError (or the DNS error). */
export async function checkedAddresses(hostname: string, allowPrivate: boolean, family = 0): Promise<LookupAddress[]> {
  const host = hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await resolveAll(host, family);
  if (addresses.length === 0) throw new AddressRefusedError(`${hostname} resolves to no address`);
  for (const a of addresses) {
    const why = refusal(a.address, allowPrivate);
    if (why) throw new AddressRefusedError(`${hostname}: ${why}`);
  }
  return addresses;
}

/** A `lookup` for `http.request`: the connection goes only to addresses checked just now. */
export function guardedLookup(allowPrivate: boolean): LookupFunction {
  return ((hostname: string, options: { family?: number; all?: boolean }, callback: (...args: unknown[]) => void) => {
    checkedAddresses(hostname, allowPrivate, options.family ?? 0).then(
      (addresses) => {
        if (options.all) callback(null, addresses);
        else callback(null, (addresses[0] as LookupAddress).address, (addresses[0] as LookupAddress).family);
      },
      (err: unknown) => callback(err),
    );
  }) as unknown as LookupFunction;
}
