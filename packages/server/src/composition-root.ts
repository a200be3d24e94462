import { composeBackend } from '@arbor/core';
import type { ComposedBackend, GardenerObserver, Logger } from '@arbor/core';
import { ConfigError, netInHostPorts } from './arbor-config';
import type { ArborConfig } from './arbor-config';
import type { BackendRegistry } from './backends';

/**
 * composeArbordBackend builds arbord's backend through core's composeBackend, the one
 * composition path: the configured backend's modules from the registry, the whole config as
 * TOKENS.BackendConfig (each module reads its section), and arbord's own part of the
 * Gardener's config (netInHostPorts), reporting its steps to observer when one is given
 * (arbord's metrics).
 * @throws ConfigError for an unknown backend; whatever the backend's modules throw when the host cannot serve it
 */
export async function composeArbordBackend(
  config: ArborConfig,
  logger: Logger,
  registry: BackendRegistry,
  observer?: GardenerObserver,
): Promise<ComposedBackend> {
  const modules = registry[config.backend];
  if (!modules) {
    throw new ConfigError('backend', `unknown backend '${config.backend}': valid backends are ${Object.keys(registry).join(', ')}`);
  }
  return composeBackend(modules(config), config, { logger, gardener: { netInHostPorts: netInHostPorts(config) }, ...(observer && { observer }) });
}
