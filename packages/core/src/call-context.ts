import type { Logger } from './logger';

/**
 * CallContext is what one client call carries down to the ports: its logger, a child like
 * { rpc: 'Create', requestId: '5f0c9a1e', handle: 'web-1' }, so a port's log lines name the
 * call that caused them. It is an optional last parameter: a port given none logs with the
 * logger it was built with (`ctx?.logger ?? this.logger`), and a remote Client ignores it.
 */
export interface CallContext {
  logger: Logger;
}
