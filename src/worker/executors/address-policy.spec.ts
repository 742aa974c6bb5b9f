import { classifyAddress, refusalReason, unmapIPv4 } from './address-policy';
import { guardedLookup } from './http.executor';

const strict = { allowPrivate: false, allowLinkLocal: false, allowLoopback: false };
const defaults = { allowPrivate: true, allowLinkLocal: false, allowLoopback: true };

describe('address policy', () => {
  it.each([
    ['169.254.169.254', 'metadata'],
    ['169.254.170.2', 'metadata'],
    ['fd00:ec2::254', 'metadata'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:a9fe:a9fe', 'metadata'],
    ['169.254.1.1', 'link_local'],
    ['fe80::abcd', 'link_local'],
    ['febf::1', 'link_local'],
    ['127.0.0.1', 'loopback'],
    ['127.9.9.9', 'loopback'],
    ['::1', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['fd12::1', 'private'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'multicast'],
    ['8.8.8.8', 'public'],
    ['172.32.0.1', 'public'],
    ['2001:4860:4860::8888', 'public'],
  ])('%s is %s', (ip, cls) => {
    expect(classifyAddress(ip)).toBe(cls);
  });

  it('refuses metadata even when link-local is allowed; follows the switches otherwise', () => {
    const all = { allowPrivate: true, allowLinkLocal: true, allowLoopback: true };
    expect(refusalReason('169.254.169.254', all)).toMatch(/metadata/);
    expect(refusalReason('169.254.1.1', all)).toBeUndefined();
    expect(refusalReason('169.254.1.1', defaults)).toMatch(/link-local/);
    expect(refusalReason('127.0.0.1', defaults)).toBeUndefined();
    expect(refusalReason('127.0.0.1', strict)).toMatch(/loopback/);
    expect(refusalReason('10.1.1.1', strict)).toMatch(/private/);
    expect(refusalReason('1.1.1.1', strict)).toBeUndefined();
  });

  it('unmaps IPv4-mapped IPv6 and rejects non-IPs', () => {
    expect(unmapIPv4('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(unmapIPv4('::ffff:7f00:1')).toBe('127.0.0.1');
    expect(unmapIPv4('2001::1')).toBe('2001::1');
    expect(() => classifyAddress('example.com')).toThrow(/not an IP/);
  });

  it('the guarded lookup refuses a name that resolves to a link-local address', async () => {
    // dns.lookup answers an IP literal with itself: no DNS server needed.
    const lookup = guardedLookup(defaults);
    const err = await new Promise<Error | null>((resolve) =>
      lookup('169.254.7.7', { all: true }, (e) => resolve(e)),
    );
    expect(err?.message).toMatch(/169\.254\.7\.7 resolves to .*link-local/);
    const ok = await new Promise<unknown>((resolve) =>
      lookup('127.0.0.1', {}, (e, address) => resolve(e ?? address)),
    );
    expect(ok).toBe('127.0.0.1');
  });
});

describe('IPv6 forms that embed an IPv4 address', () => {
  const deny = { allowPrivate: false, allowLinkLocal: false, allowLoopback: false };
  it.each([
    ['::a9fe:a9fe', 'metadata'],
    ['[::a9fe:a9fe]', 'metadata'],
    ['::169.254.169.254', 'metadata'],
    ['::7f00:1', 'loopback'],
    ['64:ff9b::a9fe:a9fe', 'metadata'],
    ['64:ff9b::127.0.0.1', 'loopback'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['2002:a9fe:a9fe::', 'metadata'],
    ['2002:7f00:1::1', 'loopback'],
    ['2002:c0a8:0101::', 'private'],
    ['::ffff:0:a9fe:a9fe', 'metadata'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['2001:0:4136:e378:8000:63bf:5601:5601', 'metadata'],
    ['64:ff9b:1::1', 'private'],
  ])('%s is %s', (address, cls) => {
    expect(classifyAddress(address)).toBe(cls);
    expect(refusalReason(address, deny)).toBeDefined();
  });
  it('leaves ::1, :: and public IPv6 alone', () => {
    expect(classifyAddress('::1')).toBe('loopback');
    expect(classifyAddress('::')).toBe('unspecified');
    expect(classifyAddress('2606:4700::1111')).toBe('public');
    expect(classifyAddress('64:ff9b::808:808')).toBe('public');
  });
});
