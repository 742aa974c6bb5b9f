import { BlockList, isIP } from 'node:net';

export type AddressClass =
  'metadata' | 'unspecified' | 'multicast' | 'link_local' | 'loopback' | 'private' | 'public';

export interface AddressRules {
  allowPrivate: boolean;
  allowLinkLocal: boolean;
  allowLoopback: boolean;
}

/** Cloud instance-metadata endpoints: refused whatever the rules say. */
const METADATA = new BlockList();
METADATA.addAddress('169.254.169.254', 'ipv4'); // AWS, GCP, Azure, OpenStack...
METADATA.addAddress('169.254.170.2', 'ipv4'); // AWS ECS task metadata
METADATA.addAddress('100.100.100.200', 'ipv4'); // Alibaba Cloud
METADATA.addAddress('fd00:ec2::254', 'ipv6'); // AWS IPv6

const UNSPECIFIED = new BlockList();
UNSPECIFIED.addSubnet('0.0.0.0', 8, 'ipv4');
UNSPECIFIED.addAddress('::', 'ipv6');

const MULTICAST = new BlockList();
MULTICAST.addSubnet('224.0.0.0', 4, 'ipv4');
MULTICAST.addSubnet('240.0.0.0', 4, 'ipv4'); // reserved + broadcast
MULTICAST.addSubnet('ff00::', 8, 'ipv6');

const LINK_LOCAL = new BlockList();
LINK_LOCAL.addSubnet('169.254.0.0', 16, 'ipv4');
LINK_LOCAL.addSubnet('fe80::', 10, 'ipv6');

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

const PRIVATE = new BlockList();
PRIVATE.addSubnet('10.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('172.16.0.0', 12, 'ipv4');
PRIVATE.addSubnet('192.168.0.0', 16, 'ipv4');
PRIVATE.addSubnet('100.64.0.0', 10, 'ipv4'); // carrier-grade NAT
PRIVATE.addSubnet('fc00::', 7, 'ipv6');
PRIVATE.addSubnet('64:ff9b:1::', 48, 'ipv6'); // local-use NAT64 (RFC 8215): translates to anything

/** `::ffff:a.b.c.d` (and `::ffff:xxxx:xxxx`) → the embedded IPv4 address; other input unchanged. */
export function unmapIPv4(address: string): string {
  const lower = address.toLowerCase();
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted) return dotted[1];
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hex) {
    const hi = parseInt(hex[1], 16);
    const lo = parseInt(hex[2], 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return address;
}

/** The eight 16-bit groups of an IPv6 literal (with `::` and a trailing dotted quad expanded). */
function ipv6Groups(address: string): number[] | undefined {
  if (isIP(address) !== 6) return undefined;
  let text = address.toLowerCase();
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const parse = (part: string) => (part ? part.split(':').map((h) => parseInt(h, 16)) : []);
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const zeros = 8 - left.length - right.length;
  return [...left, ...Array<number>(Math.max(zeros, 0)).fill(0), ...right];
}

const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;

/**
 * The IPv4 address an IPv6 literal carries, so it is classified as that IPv4 address:
 * IPv4-mapped `::ffff:a.b.c.d`, SIIT `::ffff:0:a.b.c.d`, IPv4-compatible `::a.b.c.d`
 * (`[::a9fe:a9fe]`, `[::7f00:1]`; not `::` or `::1`), NAT64 `64:ff9b::/96`, 6to4 `2002::/16`
 * and Teredo `2001::/32` (the client address, bit-inverted). `undefined` for anything else.
 */
export function embeddedIPv4(address: string): string | undefined {
  const g = ipv6Groups(address);
  if (!g) return undefined;
  const zero = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zero(0, 5) && g[5] === 0xffff) return v4(g[6], g[7]);
  if (zero(0, 4) && g[4] === 0xffff && g[5] === 0) return v4(g[6], g[7]);
  if (zero(0, 6) && g[6] !== 0) return v4(g[6], g[7]);
  if (g[0] === 0x64 && g[1] === 0xff9b && zero(2, 6)) return v4(g[6], g[7]);
  if (g[0] === 0x2002) return v4(g[1], g[2]);
  if (g[0] === 0x2001 && g[1] === 0) return v4(g[6] ^ 0xffff, g[7] ^ 0xffff);
  return undefined;
}

/**
 * Classifies an IP literal (IPv4, IPv6, or an IPv6 form that embeds an IPv4 address, which is
 * classified as that address). Throws on a non-IP.
 */
export function classifyAddress(address: string): AddressClass {
  const raw = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const ip = embeddedIPv4(raw) ?? unmapIPv4(raw);
  const family = isIP(ip);
  if (family === 0) throw new Error(`not an IP address: ${address}`);
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (METADATA.check(ip, type)) return 'metadata';
  if (UNSPECIFIED.check(ip, type)) return 'unspecified';
  if (MULTICAST.check(ip, type)) return 'multicast';
  if (LINK_LOCAL.check(ip, type)) return 'link_local';
  if (LOOPBACK.check(ip, type)) return 'loopback';
  if (PRIVATE.check(ip, type)) return 'private';
  return 'public';
}

/** Why `address` may not be called under `rules`, or `undefined` when it may. */
export function refusalReason(address: string, rules: AddressRules): string | undefined {
  const cls = classifyAddress(address);
  switch (cls) {
    case 'metadata':
      return `${address} is a cloud metadata address (always refused)`;
    case 'unspecified':
    case 'multicast':
      return `${address} is a ${cls} address (always refused)`;
    case 'link_local':
      return rules.allowLinkLocal
        ? undefined
        : `${address} is link-local (WORKER_HTTP_ALLOW_LINK_LOCAL=false)`;
    case 'loopback':
      return rules.allowLoopback
        ? undefined
        : `${address} is loopback (WORKER_HTTP_ALLOW_LOOPBACK=false)`;
    case 'private':
      return rules.allowPrivate
        ? undefined
        : `${address} is private (WORKER_HTTP_ALLOW_PRIVATE=false)`;
    case 'public':
      return undefined;
  }
}
