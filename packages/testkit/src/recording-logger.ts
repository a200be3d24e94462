/**
 * RecordingLogger is an @arbor/core Logger (by shape: testkit depends on nothing of Arbor's) that
 * keeps every event, at any level, with its own data and its ancestors', like
 * { event: 'create-started', requestId: 'r1', handle: 'web-1' }, in lines, which its children share.
 */
export class RecordingLogger {
  constructor(
    readonly lines: Record<string, unknown>[] = [],
    private readonly data: Record<string, unknown> = {},
  ) {}
  debug(event: string, data?: Record<string, unknown>): void {
    this.lines.push({ event, ...this.data, ...data });
  }
  info(event: string, data?: Record<string, unknown>): void {
    this.debug(event, data);
  }
  error(event: string, data?: Record<string, unknown>): void {
    this.debug(event, data);
  }
  child(data: Record<string, unknown>): RecordingLogger {
    return new RecordingLogger(this.lines, { ...this.data, ...data });
  }
}
