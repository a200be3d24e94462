import type { Backend, Logger } from '@arbor/core';
import type { ArborConfig } from './arbor-config';

/**
 * logContainerCapacity says at start how many containers arbord will hold and, when
 * maxContainers asks for more than that, why not: each container takes a /30 of networkPool,
 * so the default 10.254.0.0/22 holds 256 whatever maxContainers says. arbord still starts
 * (the cap is lowered, as Capacity reports), so an old config keeps working; the line says
 * which pool would hold the asked-for number, like a /20 for 1000.
 */
export async function logContainerCapacity(config: ArborConfig, backend: Backend, logger: Logger): Promise<void> {
  const { maxContainers } = await backend.capacity();
  if (config.maxContainers <= maxContainers) {
    logger.info('container-capacity', { maxContainers, networkPool: config.networkPool });
    return;
  }
  const prefix = 30 - Math.ceil(Math.log2(config.maxContainers));
  logger.error('max-containers-above-capacity', {
    maxContainers: config.maxContainers,
    effective: maxContainers,
    networkPool: config.networkPool,
    note:
      `maxContainers ${config.maxContainers} is lowered to ${maxContainers}: each container takes a /30 of networkPool ${config.networkPool}; ` +
      (prefix >= 1 ? `a /${prefix} (--network-pool, like 10.254.0.0/${prefix}) holds ${2 ** (30 - prefix)}` : 'no IPv4 pool holds that many'),
  });
}
