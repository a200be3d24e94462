import type { SpecialFiles } from '../special-files';

/** RecordingSpecialFiles notes what it is asked to make, as absolute paths, and makes nothing. */
export class RecordingSpecialFiles implements SpecialFiles {
  readonly whiteouts: string[] = [];
  readonly opaques: string[] = [];
  async whiteout(path: string): Promise<void> {
    this.whiteouts.push(path);
  }
  async opaque(dir: string): Promise<void> {
    this.opaques.push(dir);
  }
  async device(): Promise<void> {}
  async fifo(): Promise<void> {}
}
