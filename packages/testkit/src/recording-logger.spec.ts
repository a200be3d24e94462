import { RecordingLogger } from './recording-logger';

describe('RecordingLogger', () => {
  it("keeps each event with its children's data, in the lines they share, at every level", () => {
    const root = new RecordingLogger();
    const call = root.child({ requestId: 'r1' });
    call.child({ handle: 'h' }).info('create-started', { step: 1 });
    call.error('create-failed');
    root.debug('idle');
    expect(root.lines).toEqual([
      { event: 'create-started', requestId: 'r1', handle: 'h', step: 1 },
      { event: 'create-failed', requestId: 'r1' },
      { event: 'idle' },
    ]);
  });
});
