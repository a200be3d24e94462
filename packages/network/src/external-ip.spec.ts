import { defaultRouteInterface } from './external-ip';

const header = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT';

describe('defaultRouteInterface', () => {
  it('picks the up default route with the lowest metric', () => {
    const table = [
      header,
      'eth1\t00000000\t010200C0\t0003\t0\t0\t200\t00000000\t0\t0\t0',
      'eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0',
      'docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
    ].join('\n');
    expect(defaultRouteInterface(table)).toBe('eth0');
  });

  it('finds none without a default route, or when it is down', () => {
    expect(defaultRouteInterface([header, 'docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0'].join('\n'))).toBeUndefined();
    expect(defaultRouteInterface([header, 'eth0\t00000000\t010200C0\t0002\t0\t0\t0\t00000000\t0\t0\t0'].join('\n'))).toBeUndefined();
  });
});
