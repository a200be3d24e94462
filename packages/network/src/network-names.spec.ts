import { InvalidArgumentError } from '@arbor/core';
import { NetworkNames, TAGS, prefixForTag } from './network-names';

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

describe('prefixForTag', () => {
  it("keeps today's names for the empty tag and puts a tag after 'arb'", () => {
    expect(prefixForTag('')).toBe('arb');
    expect(prefixForTag('x')).toBe('arbx');
    expect(new NetworkNames(prefixForTag('7')).bridge({ network: 0x0afe0100, prefixLength: 24 })).toBe('arb7b0afe010018');
  });

  it('refuses tags that would not fit link names or would look like another tag’s names', () => {
    for (const tag of ['xy', 'X', '-', 'b', 'v', 'i', 't', ' ']) expect(() => prefixForTag(tag)).toThrow(InvalidArgumentError);
  });

  it('gives every two tags (and the network tests’ arbt) names that neither parses nor matches with a wildcard', () => {
    const all = [...['', ...TAGS].map((t) => new NetworkNames(prefixForTag(t))), new NetworkNames('arbt')];
    for (const a of all) {
      const links = [a.bridge({ network: 0x0afe0100, prefixLength: 24 }), a.hostVeth('10.254.0.2'), a.ifb('10.254.0.2')];
      const chains = [a.outChain('10.254.0.2'), a.inChain('10.254.0.2'), a.sharedChain('FORWARD')];
      for (const l of links) expect(l.length).toBeLessThanOrEqual(15);
      for (const b of all) {
        if (a === b) continue;
        for (const l of links) {
          expect(b.parseBridge(l)).toBeUndefined();
          expect(b.parseContainerLink(l)).toBeUndefined();
          // iptables reads 'arbb+' as every name starting with 'arbb'
          for (const w of [b.bridgeWildcard(), ...b.gatewayWildcards()]) expect(l.startsWith(w.slice(0, -1))).toBe(false);
        }
        for (const c of chains) expect(b.parseContainerChain(c)).toBeUndefined();
        expect(chains).not.toContain(b.sharedChain('FORWARD'));
      }
    }
  });
});
