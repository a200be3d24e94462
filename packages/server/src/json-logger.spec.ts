import { JsonLogger } from './json-logger';

function capture(level: 'debug' | 'info' | 'error' | 'silent') {
  const lines: string[] = [];
  const logger = new JsonLogger({ level, sink: { write: (l: string) => lines.push(l) }, now: () => new Date(0) });
  return { logger, events: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>), lines };
}

describe('JsonLogger', () => {
  test('one JSON object per line: time, level, event, then data', () => {
    const { logger, lines } = capture('info');
    logger.info('create-started', { handle: 'web-1' });
    expect(lines).toEqual(['{"time":"1970-01-01T00:00:00.000Z","level":"info","event":"create-started","handle":"web-1"}\n']);
  });

  test('child loggers add their data to every event', () => {
    const { logger, events } = capture('debug');
    const call = logger.child({ rpc: 'Create' }).child({ handle: 'web-1' });
    call.debug('rpc-finished', { durationMs: 3 });
    expect(events()).toEqual([{ time: '1970-01-01T00:00:00.000Z', level: 'debug', event: 'rpc-finished', rpc: 'Create', handle: 'web-1', durationMs: 3 }]);
  });

  test('events below the level are dropped; silent drops everything', () => {
    const info = capture('error');
    info.logger.info('ignored');
    info.logger.error('kept');
    expect(info.events().map((e) => e['event'])).toEqual(['kept']);
    const silent = capture('silent');
    silent.logger.error('dropped');
    expect(silent.lines).toEqual([]);
  });

  test('errors are written with their name, message and stack', () => {
    const { logger, events } = capture('info');
    logger.error('unexpected-error', { error: new TypeError('boom') });
    expect(events()[0]?.['error']).toMatchObject({ name: 'TypeError', message: 'boom', stack: expect.stringContaining('boom') });
  });
});
