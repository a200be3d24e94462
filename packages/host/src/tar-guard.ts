import { PassThrough } from 'node:stream';
import type { Readable } from 'node:stream';
import { extract as tarExtract, pack as tarPack } from 'tar-stream';
import type { Header } from 'tar-stream';
import { InvalidTarError } from '@arbor/core';

/**
 * guardTar passes a tar through, entry by entry, and fails with InvalidTarError on an entry
 * that TarEntryPolicy refuses with its defaults: an absolute or '..' path, a hard link leaving
 * the tree, a path through a symlink the same tar made, or a device node. arbor-tar extracts inside the
 * container's mount namespace anyway (nothing outside can be reached); this check gives the
 * client a clear error instead of a silently rewritten path.
 */
export function guardTar(input: Readable): Readable {
  const extract = tarExtract();
  const pack = tarPack();
  const policy = new TarEntryPolicy();
  let count = 0;
  extract.on('entry', (header: Header, stream, next) => {
    count += 1;
    // a failing tar also fails the entry being read: extract's own error reports it
    stream.on('error', () => undefined);
    const decision = policy.check(header);
    if (decision.verdict === 'refuse') {
      stream.resume();
      next(new InvalidTarError(`entry '${header.name}' ${decision.reason}`));
      return;
    }
    const entry = pack.entry(header, (err) => next(err ?? undefined));
    // an entry cut short (the reader or the source gave up) fails with pack, which reports it
    entry.on('error', () => undefined);
    stream.pipe(entry);
  });
  const out = new PassThrough();
  // the reader of out gets its errors; without one, a late error must not crash arbord
  out.on('error', () => undefined);
  let stopped = false;
  // stop ends the guard's own streams quietly and lets go of the input (the caller's to end)
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    input.unpipe(extract as unknown as NodeJS.WritableStream);
    input.resume();
    extract.destroy();
    pack.destroy();
  };
  const fail = (err: Error): void => {
    if (!out.destroyed) out.destroy(InvalidTarError.is(err) ? err : new InvalidTarError(err.message, { cause: err }));
    stop();
  };
  // a reader that destroys out (a cancelled call, a tar that stopped reading) stops the guard
  out.on('close', stop);
  extract.on('finish', () => {
    if (count === 0) fail(new InvalidTarError('it holds no entries (empty or truncated)'));
    else pack.finalize();
  });
  pack.on('error', fail);
  extract.on('error', fail);
  pack.pipe(out);
  // not stream.pipeline: it would destroy the caller's input with the error, unhandled there
  input.on('error', fail);
  input.pipe(extract as unknown as NodeJS.WritableStream);
  return out;
}

/**
 * TarEntryPolicyOptions are where the tars Arbor reads differ: a stream-in (the defaults),
 * an image layer, a stream-out a client extracts.
 */
export interface TarEntryPolicyOptions {
  /**
   * absoluteNames: 'refuse' (the default) fails '/etc/passwd'; 'inside' puts it at
   * etc/passwd of the destination, as image layers mean it (for hard link targets too).
   */
  absoluteNames?: 'refuse' | 'inside';
  /**
   * devices: 'refuse' (the default) fails any device node; 'whiteouts' keeps 0:0 character
   * devices (overlay whiteouts in an image layer) and fails the rest; 'skip' leaves them out.
   */
  devices?: 'refuse' | 'whiteouts' | 'skip';
  /** fifos: 'keep' (the default) or 'skip'. */
  fifos?: 'keep' | 'skip';
  /** destination names where entries go in messages, like 'layer'; 'destination' by default. */
  destination?: string;
}

/**
 * TarEntryDecision is what TarEntryPolicy.check decided for one entry: refused (reason is
 * like "would be written outside the destination (absolute path or ..)"), skipped, or
 * written at parts (path components inside the destination, like ['usr', 'bin', 'sh']),
 * and for a hard link, to linkParts.
 */
export type TarEntryDecision =
  { verdict: 'refuse'; reason: string } | { verdict: 'skip' } | { verdict: 'write'; parts: string[]; linkParts: string[] | undefined };

/**
 * TarEntryPolicy is the one rule for which tar entries Arbor refuses, for stream-in (guardTar),
 * image layers and the client's extractTar alike: a NUL in a name, a '..' component, an
 * absolute name (unless absoluteNames 'inside'), a hard link whose target would be refused
 * as a name, a name or hard link target through a symlink an earlier entry of the same tar
 * made, and device nodes (see devices). One policy reads one tar: it remembers its symlinks.
 * Extractors still refuse to write through a symlink they find on disk.
 */
export class TarEntryPolicy {
  private readonly symlinks = new Set<string>();
  private readonly destination: string;

  constructor(private readonly options: TarEntryPolicyOptions = {}) {
    this.destination = options.destination ?? 'destination';
  }

  /** check decides for header and, for a symlink it lets through, remembers it. */
  check(header: Pick<Header, 'name'> & Partial<Pick<Header, 'type' | 'linkname' | 'devmajor' | 'devminor'>>): TarEntryDecision {
    const parts = this.components(header.name);
    if (typeof parts === 'string') return { verdict: 'refuse', reason: parts };
    const through = this.throughSymlink(parts);
    if (through) return { verdict: 'refuse', reason: `goes through the symlink '${through}' made by this tar` };
    let linkParts: string[] | undefined;
    switch (header.type) {
      case 'block-device':
      case 'character-device': {
        const whiteout = header.type === 'character-device' && (header.devmajor ?? 0) === 0 && (header.devminor ?? 0) === 0;
        if (this.options.devices === 'skip') return { verdict: 'skip' };
        if (this.options.devices === 'whiteouts' && whiteout) break;
        const kind = header.type === 'block-device' ? 'block' : 'character';
        const allowed = this.options.devices === 'whiteouts' ? `: no device nodes but 0:0 whiteouts may come in` : ': devices cannot be streamed in';
        return { verdict: 'refuse', reason: `is a ${kind} device ${header.devmajor ?? 0}:${header.devminor ?? 0}${allowed}` };
      }
      case 'fifo':
        if (this.options.fifos === 'skip') return { verdict: 'skip' };
        break;
      case 'link': {
        const target = this.components(header.linkname ?? '');
        if (typeof target === 'string' || target.length === 0) {
          return { verdict: 'refuse', reason: `is a hard link to '${header.linkname ?? ''}', outside the ${this.destination}` };
        }
        // a link to the symlink itself is fine: link(2) links the symlink, it does not follow it
        const via = this.throughSymlink(target);
        if (via) return { verdict: 'refuse', reason: `is a hard link through the symlink '${via}' made by this tar` };
        linkParts = target;
        break;
      }
      case 'symlink':
        this.symlinks.add(parts.join('/'));
        break;
    }
    return { verdict: 'write', parts, linkParts };
  }

  /** components is name's path components inside the destination ('./a//b/' -> ['a', 'b']), or why it is refused. */
  private components(name: string): string[] | string {
    if (name.includes('\0')) return 'has a NUL byte in its name';
    if (name.startsWith('/') && this.options.absoluteNames !== 'inside') return `would be written outside the ${this.destination} (absolute path)`;
    const parts = name.split('/').filter((part) => part !== '' && part !== '.');
    if (parts.includes('..')) return `leaves the ${this.destination} through '..'`;
    return parts;
  }

  /** throughSymlink is the first symlink of this tar that parts pass through (not parts itself), or undefined. */
  private throughSymlink(parts: readonly string[]): string | undefined {
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      if (this.symlinks.has(prefix)) return prefix;
    }
    return undefined;
  }
}
