import { InvalidArgumentError } from '@arbor/core';
import { IptablesRuleset, asDeletes, asInserts, netOutLines, parseSave, renderRestore } from './iptables-ruleset';
import { NetworkNames } from './network-names';

const names = new NetworkNames('arb');

describe('netOutLines', () => {
  it('allows one protocol, port range and address range per line, with the match modules iptables needs', () => {
    expect(
      netOutLines(
        'arb-o-0afe0002',
        [
          {
            protocol: 'tcp',
            networks: [
              { start: '10.0.0.1', end: '10.0.0.9' },
              { start: '192.0.2.7', end: '192.0.2.7' },
            ],
            ports: [
              { start: 80, end: 80 },
              { start: 8000, end: 8080 },
            ],
          },
        ],
        'x ',
      ),
    ).toEqual([
      '-A arb-o-0afe0002 -p tcp -m tcp --dport 80 -m iprange --dst-range 10.0.0.1-10.0.0.9 -j ACCEPT',
      '-A arb-o-0afe0002 -p tcp -m tcp --dport 80 -d 192.0.2.7/32 -j ACCEPT',
      '-A arb-o-0afe0002 -p tcp -m tcp --dport 8000:8080 -m iprange --dst-range 10.0.0.1-10.0.0.9 -j ACCEPT',
      '-A arb-o-0afe0002 -p tcp -m tcp --dport 8000:8080 -d 192.0.2.7/32 -j ACCEPT',
    ]);
  });

  it('matches ICMP type and code, plain ICMP without -m icmp, and everything for protocol all', () => {
    expect(
      netOutLines(
        'c',
        [
          { protocol: 'icmp', icmps: { type: 3, code: 1 } },
          { protocol: 'icmp', icmps: { type: 8 } },
          { protocol: 'icmp' },
          { protocol: 'all' },
          { protocol: 'udp' },
        ],
        'x ',
      ),
    ).toEqual([
      '-A c -p icmp -m icmp --icmp-type 3/1 -j ACCEPT',
      '-A c -p icmp -m icmp --icmp-type 8 -j ACCEPT',
      '-A c -p icmp -j ACCEPT',
      '-A c -j ACCEPT',
      '-A c -p udp -j ACCEPT',
    ]);
  });

  it('logs new connections before accepting them when the rule asks', () => {
    expect(netOutLines('c', [{ protocol: 'udp', ports: [{ start: 53, end: 53 }], log: true }], 'arb-o-0afe0002 ')).toEqual([
      '-A c -p udp -m udp --dport 53 -m conntrack --ctstate NEW,UNTRACKED,INVALID -j LOG --log-prefix "arb-o-0afe0002 "',
      '-A c -p udp -m udp --dport 53 -j ACCEPT',
    ]);
  });
});

describe('IptablesRuleset', () => {
  it('rejects the host, link-local and each deny network, and accepts the rest', () => {
    const filter = new IptablesRuleset(names, ['10.0.0.0/8', '192.168.1.5/16']).sharedChains().filter;
    const deflt = filter.filter((l) => l.startsWith('-A ARB-DEFAULT'));
    expect(deflt).toEqual([
      '-A ARB-DEFAULT -m addrtype --dst-type LOCAL -j REJECT --reject-with icmp-port-unreachable',
      '-A ARB-DEFAULT -d 169.254.0.0/16 -j REJECT --reject-with icmp-port-unreachable',
      '-A ARB-DEFAULT -d 10.0.0.0/8 -j REJECT --reject-with icmp-port-unreachable',
      '-A ARB-DEFAULT -d 192.168.1.5/16 -j REJECT --reject-with icmp-port-unreachable',
      '-A ARB-DEFAULT -j ACCEPT',
    ]);
  });

  it('refuses a deny network that is not a CIDR, naming it', () => {
    expect(() => new IptablesRuleset(names, ['0.0.0.0/0', '10.0.0.0/40'])).toThrow(InvalidArgumentError);
    expect(() => new IptablesRuleset(names, ['0.0.0.0/0', 'nope'])).toThrow(/denyNetworks\[1\]/);
  });

  it('rejects what containers send to 127.0.0.0/8 after their replies and before any container chain', () => {
    const filter = new IptablesRuleset(names, ['0.0.0.0/0']).sharedChains().filter;
    const reject = '-j REJECT --reject-with icmp-port-unreachable';
    expect(filter.filter((l) => l.startsWith('-A ARB-INPUT'))).toEqual([
      '-A ARB-INPUT -i arbb+ -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-A ARB-INPUT -i arbv+ -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      `-A ARB-INPUT -d 127.0.0.0/8 -i arbb+ ${reject}`,
      `-A ARB-INPUT -d 127.0.0.0/8 -i arbv+ ${reject}`,
      '-A ARB-INPUT -i arbb+ -j ARB-CONTAINERS',
      '-A ARB-INPUT -i arbv+ -j ARB-CONTAINERS',
      `-A ARB-INPUT -i arbb+ ${reject}`,
      `-A ARB-INPUT -i arbv+ ${reject}`,
    ]);
    const forward = filter.filter((l) => l.startsWith('-A ARB-FORWARD'));
    const loopback = forward.findIndex((l) => l.includes('--ctorigdst 127.0.0.0/8'));
    expect(forward[loopback]).toBe(`-A ARB-FORWARD -i arbb+ -m conntrack --ctorigdst 127.0.0.0/8 ${reject}`);
    expect(forward[loopback + 1]).toBe(`-A ARB-FORWARD -i arbv+ -m conntrack --ctorigdst 127.0.0.0/8 ${reject}`);
    const firstAccept = forward.findIndex((l) => l.endsWith('-j ACCEPT') && !l.includes('RELATED,ESTABLISHED'));
    expect(loopback).toBeLessThan(firstAccept);
  });

  it("enters a container's NetOut chain only from its host veth: the routing link of a /30, the bridge port in a shared subnet", () => {
    const ruleset = new IptablesRuleset(names, ['0.0.0.0/0']);
    expect(ruleset.containerJumps('10.254.0.2', false).filter).toEqual(['-A ARB-CONTAINERS -s 10.254.0.2/32 -i arbv0afe0002 -j arb-o-0afe0002']);
    expect(ruleset.containerJumps('10.254.1.3', true).filter).toEqual([
      '-A ARB-CONTAINERS -s 10.254.1.3/32 -m physdev --physdev-in arbv0afe0103 -j arb-o-0afe0103',
    ]);
  });

  it("puts a container's NetOut rules before the default and its NetIn as DNAT", () => {
    const lines = new IptablesRuleset(names, ['0.0.0.0/0']).containerChains({
      containerIp: '10.254.0.2',
      netOut: [{ protocol: 'tcp', ports: [{ start: 443, end: 443 }] }],
      netIn: [{ hostPort: 61001, containerPort: 8080 }],
    });
    expect(lines.filter).toEqual([':arb-o-0afe0002 - [0:0]', '-A arb-o-0afe0002 -p tcp -m tcp --dport 443 -j ACCEPT', '-A arb-o-0afe0002 -j ARB-DEFAULT']);
    expect(lines.nat).toEqual([':arb-i-0afe0002 - [0:0]', '-A arb-i-0afe0002 -p tcp -m tcp --dport 61001 -j DNAT --to-destination 10.254.0.2:8080']);
  });
});

describe('renderRestore', () => {
  it('declares chains first, then deletes, then adds, and removes chains last, per table', () => {
    const text = renderRestore({
      filter: ['-X old', '-A a -j b', ':b - [0:0]', '-D a -j old', ':old - [0:0]'],
      nat: [],
    });
    expect(text).toBe('*filter\n:b - [0:0]\n:old - [0:0]\n-D a -j old\n-A a -j b\n-X old\nCOMMIT\n');
  });

  it('writes nothing for nothing', () => {
    expect(renderRestore({ filter: [], nat: [] })).toBe('');
  });
});

describe('asDeletes and asInserts', () => {
  it('turn appends into deletions and insertions at the top', () => {
    expect(asDeletes(['-A FORWARD -j ARB-FORWARD'])).toEqual(['-D FORWARD -j ARB-FORWARD']);
    expect(asInserts(['-A FORWARD -j ARB-FORWARD'])).toEqual(['-I FORWARD 1 -j ARB-FORWARD']);
  });
});

describe('parseSave', () => {
  it('reads chains and rules of the filter and nat tables only', () => {
    const snapshot = parseSave(
      [
        '# Generated by iptables-save',
        '*mangle',
        ':PREROUTING ACCEPT [0:0]',
        '-A PREROUTING -j MARK --set-mark 1',
        'COMMIT',
        '*filter',
        ':FORWARD DROP [0:0]',
        ':arb-o-0afe0002 - [0:0]',
        '-A FORWARD -j ARB-FORWARD',
        'COMMIT',
        '*nat',
        ':arb-i-0afe0002 - [0:0]',
        'COMMIT',
      ].join('\n'),
    );
    expect([...snapshot.chains.filter]).toEqual(['FORWARD', 'arb-o-0afe0002']);
    expect([...snapshot.rules.filter]).toEqual(['-A FORWARD -j ARB-FORWARD']);
    expect([...snapshot.chains.nat]).toEqual(['arb-i-0afe0002']);
    expect(snapshot.rules.nat.size).toBe(0);
  });
});
