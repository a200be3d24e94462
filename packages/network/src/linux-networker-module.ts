import { ContainerModule } from 'inversify';
import { TOKENS } from '@arbor/core';
import type { Logger, Networker } from '@arbor/core';
import { usernsOf } from '@arbor/host';
import type { UsernsConfig } from '@arbor/host';
import { LinuxNetworker } from './linux-networker';
import { PoolRegistry } from './pool-registry';

/** LinuxNetworkerConfig is the part of TOKENS.BackendConfig the LinuxNetworker reads; absent or 0 fields take its defaults. */
export interface LinuxNetworkerConfig {
  /** networkPool is the CIDR containers get a /30 from, like '10.254.0.0/22'. */
  networkPool?: string;
  /** portPoolStart and portPoolSize are NetIn's host ports, like 61001 and 4534. */
  portPoolStart?: number;
  portPoolSize?: number;
  /** tag names this arbord's links and chains apart from another's, like 'x' (links 'arbx...'); '' keeps 'arb'. */
  tag?: string;
  /** userns is the containerizer's id pool, recorded beside the network pools so that no two arbords share it. */
  userns?: Partial<UsernsConfig>;
}

/**
 * linuxNetworkerModule binds TOKENS.Networker to a LinuxNetworker configured from the backend
 * config, which refuses at start a tag or pools (user-namespace ids among them) another live
 * arbord on this host holds (recorded in /run/arbor/pools).
 */
export const linuxNetworkerModule = new ContainerModule(({ bind }) => {
  bind<Networker>(TOKENS.Networker)
    .toResolvedValue(
      (config: LinuxNetworkerConfig, logger: Logger) => {
        const userns = usernsOf(config.userns);
        return new LinuxNetworker({
          ...(config.networkPool && { networkPool: config.networkPool }),
          ...(config.portPoolStart && { portPoolStart: config.portPoolStart }),
          ...(config.portPoolSize && { portPoolSize: config.portPoolSize }),
          ...(config.tag && { tag: config.tag }),
          poolRegistry: new PoolRegistry(),
          ...(userns.enabled && { userIds: { base: userns.base, size: userns.size } }),
          logger,
        });
      },
      [TOKENS.BackendConfig, TOKENS.Logger],
    )
    .inSingletonScope();
});
