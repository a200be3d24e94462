import { InvalidArgumentError } from '@arbor/core';
import { NetworkNames } from './network-names';

describe('NetworkNames', () => {
  const names = new NetworkNames('arbt');

  it('names links within the kernel limit of 15 characters and reads them back', () => {
    const bridge = names.bridge({ network: 0x0afe0100, prefixLength: 24 });
    expect(bridge).toBe('arbtb0afe010018');
    expect(bridge.length).toBeLessThanOrEqual(15);
    expect(names.parseBridge(bridge)).toEqual({ network: 0x0afe0100, prefixLength: 24 });
    expect(names.hostVeth('10.254.0.2')).toBe('arbtv0afe0002');
    expect(names.parseContainerLink('arbtv0afe0002')).toEqual({ kind: 'veth', containerIp: '10.254.0.2' });
    expect(names.parseContainerLink(names.ifb('10.254.0.6'))).toEqual({ kind: 'ifb', containerIp: '10.254.0.6' });
  });

  it('does not claim names of another prefix or of anyone else', () => {
    const production = new NetworkNames('arb');
    expect(production.parseContainerLink('arbtv0afe0002')).toBeUndefined();
    expect(production.parseBridge('arbtb0afe010018')).toBeUndefined();
    expect(names.parseContainerLink('docker0')).toBeUndefined();
    expect(names.parseContainerChain('arbt-o-0afe0002')).toBe('10.254.0.2');
    expect(names.parseContainerChain('arbt-i-0afe0002')).toBe('10.254.0.2');
    expect(production.parseContainerChain('arbt-o-0afe0002')).toBeUndefined();
  });

  it('refuses a prefix that would not fit link names', () => {
    expect(() => new NetworkNames('arbor')).toThrow(InvalidArgumentError);
    expect(() => new NetworkNames('A-b')).toThrow(InvalidArgumentError);
  });
});
