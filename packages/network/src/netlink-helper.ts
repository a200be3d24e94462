import { ArborError } from '@arbor/core';
import { Coprocess, helperPath, lineCodec } from '@arbor/host';

/** NetlinkError is a request the kernel refused; errno is like 17 (EEXIST). */
export class NetlinkError extends ArborError {
  constructor(
    readonly request: string,
    readonly errno: number,
    reason: string,
  ) {
    super('internal', `arbor-net: '${request}' failed: ${reason} (errno ${errno})`);
  }
}

/**
 * findHelper (called once, at construction) locates the arbor-net binary through helperPath:
 * ARBOR_NET_HELPER, else native/arbor-net/arbor-net in this repository.
 */
export function findHelper(): string {
  return helperPath('arbor-net');
}

/**
 * NetlinkHelper talks to arbor-net, a C coprocess doing rtnetlink (see native/arbor-net):
 * one line per request, one 'ok' or 'err <errno> <message>' line per reply, in order. The
 * process starts on first use and again after it dies; requests in flight then fail with
 * CoprocessExitedError.
 */
export class NetlinkHelper {
  private readonly coprocess: Coprocess<string, string>;

  /**
   * onLog gets each line the helper writes to stderr, like
   * '{"event":"unwire-failed","error":"..."}' from its reaper thread.
   */
  constructor(helperPath: string = findHelper(), onLog: (line: string) => void = () => undefined) {
    this.coprocess = new Coprocess(helperPath, lineCodec, {
      name: 'arbor-net',
      missingHint: "build it with 'make -C native/arbor-net' or set ARBOR_NET_HELPER",
      onStderrLine: onLog,
    });
  }

  /**
   * request sends one request line, like 'del arbv0afe0002'.
   * @throws NetlinkError when arbor-net answers 'err'
   * @throws CoprocessExitedError when arbor-net dies, or cannot start, before it answers
   */
  async request(...tokens: Array<string | number>): Promise<void> {
    const line = tokens.join(' ');
    if (/[\n\r]/.test(line) || tokens.some((t) => String(t) === '' || /\s/.test(String(t)))) {
      throw new ArborError('internal', `arbor-net: malformed request '${line}'`);
    }
    const reply = await this.coprocess.request(line);
    if (reply === 'ok') return;
    const m = /^err (\d+) (.*)$/.exec(reply);
    throw new NetlinkError(line, Number(m?.[1] ?? 0), m?.[2] ?? reply);
  }

  /** close ends the coprocess; a later request starts it again. */
  close(): Promise<void> {
    return this.coprocess.close();
  }
}
