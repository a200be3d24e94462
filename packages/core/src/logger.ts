/** Logger writes structured events, like logger.info('create-started', { handle }). */
export interface Logger {
  debug(event: string, data?: Record<string, unknown>): void;
  info(event: string, data?: Record<string, unknown>): void;
  error(event: string, data?: Record<string, unknown>): void;
  /** child returns a logger that adds data, like { handle }, to every event. */
  child(data: Record<string, unknown>): Logger;
}

/** silentLogger drops every event: for tests and library use. */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};
