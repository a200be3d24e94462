import * as fs from 'node:fs';
import { chmod, lchown, link, lstat, lutimes, mkdir, open, rm, symlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { InvalidTarError } from '@arbor/core';
import { TarEntryPolicy } from '@arbor/host';
import { extract, type Header } from 'tar-stream';
import { sharedTinyFileWriter, type TinyFile, type TinyFileWriter } from './layer-extractor-writer';
import type { SpecialFiles } from './special-files';

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARK = '.wh..wh..opq';
// SMALL_FILE: files up to this size are read whole and written while the next entries are
// read, at most MAX_PENDING at once; layers of many small files are bound by system calls.
const SMALL_FILE = 256 * 1024;
const MAX_PENDING = 16;
// TINY_FILE: files up to this size go to the TinyFileWriter's thread in batches of up to
// BATCH_FILES files or BATCH_BYTES bytes. On this VM a hop to libuv's pool costs more than
// the call itself (200 one-line files: 100 ms of CPU through the pool, 40 ms direct), and
// written on the main thread they stall the hashing and parsing of the other layers.
const TINY_FILE = 64 * 1024;
const BATCH_FILES = 32;
const BATCH_BYTES = 256 * 1024;
// UMASK is what open(2) strips from a new file's mode; a file whose mode survives it
// needs no fchmod.
const UMASK = process.umask();
// WRITE_BATCH is how many bytes of a file gather before one write: fewer, larger writes.
const WRITE_BATCH = 1024 * 1024;

/** TarEntryStream is the body of one tar entry as tar-stream hands it out (a streamx Readable). */
type TarEntryStream = AsyncIterable<unknown> & { resume(): unknown };

export interface ExtractOptions {
  /** preserveOwner applies the tar's uid/gid; only root can, so it defaults to "running as root". */
  preserveOwner?: boolean;
  /** layer names the layer in a refusal, like 'sha256:4abcf2…' (its blob digest or diffID). */
  layer?: string;
}

export interface ExtractStats {
  entries: number;
  /** fileBytes is the size of the regular files written, like the layer's disk use. */
  fileBytes: number;
}

interface PendingDir {
  path: string;
  mode: number;
  mtime: Date | undefined;
}

/**
 * LayerExtractor unpacks one untrusted layer tar into an empty directory in the form
 * overlayfs reads as a lower layer: '.wh.name' becomes a 0/0 character device 'name' and
 * '.wh..wh..opq' marks its directory opaque. What it refuses is @arbor/host's TarEntryPolicy
 * with the options of layers. No entry gets out of the directory: '..'
 * is refused, absolute names land inside it, nothing is written through a symlink, and
 * hard links may only point at files of the same layer. A layer with a device node is
 * refused whole, 0/0 character devices (overlay whiteouts) excepted: a node for the host's
 * disk (b 8:0) or memory (c 1:1) in an image would be one mknod less for a container, and
 * the container's device rules would be all that stands in its way. FIFOs are kept: they
 * reach nothing outside the container.
 */
export class LayerExtractor {
  constructor(
    private readonly special: SpecialFiles,
    private readonly tinyWriter: TinyFileWriter = sharedTinyFileWriter,
  ) {}

  /**
   * extract reads the whole tar from source into root (an existing empty directory).
   * @throws InvalidTarError when an entry tries to leave root or the tar is corrupt.
   */
  async extract(source: Readable, root: string, options: ExtractOptions = {}): Promise<ExtractStats> {
    const run = new ExtractRun(root, this.special, options.preserveOwner ?? process.getuid?.() === 0, this.tinyWriter, options.layer);
    const tar = extract();
    tar.on('entry', (header, stream, next) => {
      // A truncated tar fails the entry stream and the extractor alike: the pipeline below reports it.
      stream.on('error', () => undefined);
      run.entry(header, stream).then(
        () => next(),
        (err: unknown) => {
          stream.resume();
          next(err as Error);
        },
      );
    });
    try {
      await pipeline(source, tar as unknown as NodeJS.WritableStream);
    } catch (err) {
      // Writes still running must end before the caller removes the directory.
      await run.settle();
      if (err instanceof InvalidTarError) throw err;
      const message = err instanceof Error ? err.message : String(err);
      if (/tar|header|unexpected end/i.test(message)) throw new InvalidTarError(message, { cause: err });
      throw err;
    }
    await run.finish();
    return run.stats;
  }
}

class ExtractRun {
  readonly stats: ExtractStats = { entries: 0, fileBytes: 0 };
  // safeDirs holds directories (relative, like 'usr/bin') known to be real directories
  // made by this run, so each entry need not lstat every parent again.
  private readonly safeDirs = new Set<string>(['']);
  private readonly dirs = new Map<string, PendingDir>();
  // made holds every path this run created; root starts empty, so nothing else exists.
  private readonly made = new Set<string>();
  private readonly pending = new Set<Promise<void>>();
  // batch holds small files not yet handed to the writer thread.
  private batch: TinyFile[] = [];
  private batchBytes = 0;
  private writeError: unknown;
  // policy: absolute names land inside the layer, and 0:0 character devices are overlay whiteouts
  private readonly policy = new TarEntryPolicy({ absoluteNames: 'inside', devices: 'whiteouts', destination: 'layer' });

  constructor(
    private readonly root: string,
    private readonly special: SpecialFiles,
    private readonly preserveOwner: boolean,
    private readonly tinyWriter: TinyFileWriter,
    private readonly layer: string | undefined,
  ) {}

  async entry(header: Header, stream: TarEntryStream): Promise<void> {
    this.stats.entries += 1;
    const decision = this.policy.check(header);
    if (decision.verdict !== 'write') {
      const where = this.layer === undefined ? '' : `layer ${this.layer}: `;
      const reason = decision.verdict === 'refuse' ? decision.reason : 'is of a kind a layer may not hold';
      throw new InvalidTarError(`${where}entry '${header.name.replace(/\0/g, '\\0')}' ${reason}`);
    }
    const parts = decision.parts;
    const base = parts[parts.length - 1];
    if (base === undefined) {
      // './' itself: the layer root's own mode.
      stream.resume();
      if (header.type === 'directory') this.dirs.set('', { path: this.root, mode: header.mode ?? 0o755, mtime: header.mtime });
      return;
    }
    const parentParts = parts.slice(0, -1);
    const rel = parts.join('/');
    const isFile = header.type === 'file' || header.type === 'contiguous-file';
    const fresh = isFile && !base.startsWith(WHITEOUT_PREFIX) && !this.made.has(rel);
    // Only a new file may be written while earlier writes run; anything else may depend on them.
    if (!fresh) await this.drain();
    await this.ensureParents(header.name, parentParts);
    const parent = join(this.root, ...parentParts);
    if (fresh && (header.size ?? 0) <= SMALL_FILE) {
      const content = await readAll(stream, SMALL_FILE);
      this.made.add(rel);
      this.stats.fileBytes += content.length;
      const target = join(this.root, ...parts);
      if (content.length <= TINY_FILE) {
        this.addTinyFile(target, header, (header.mode ?? 0o644) & 0o7777, content);
        if (this.batch.length >= BATCH_FILES || this.batchBytes >= BATCH_BYTES) await this.flushBatch();
        if (this.writeError !== undefined) throw this.writeError;
        return;
      }
      const write = this.writeSmallFile(target, header, (header.mode ?? 0o644) & 0o7777, content).catch((err: unknown) => {
        this.writeError ??= err;
      });
      this.pending.add(write);
      void write.finally(() => this.pending.delete(write));
      if (this.pending.size >= MAX_PENDING) await Promise.race(this.pending);
      if (this.writeError !== undefined) throw this.writeError;
      return;
    }

    if (base.startsWith(WHITEOUT_PREFIX)) {
      stream.resume();
      if (base === OPAQUE_MARK) {
        await this.special.opaque(parent);
      } else if (!base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) {
        // Other '.wh..wh.' names are aufs bookkeeping and mean nothing here.
        const hidden = base.slice(WHITEOUT_PREFIX.length);
        if (hidden === '' || hidden === '.' || hidden === '..') throw new InvalidTarError(`bad whiteout '${header.name}'`);
        const target = join(parent, hidden);
        const hiddenParts = parentParts.concat(hidden);
        await this.clear(hiddenParts, target, false);
        this.made.add(hiddenParts.join('/'));
        await this.special.whiteout(target);
      }
      return;
    }

    const target = join(this.root, ...parts);
    const mode = (header.mode ?? 0o644) & 0o7777;
    switch (header.type) {
      case 'directory': {
        stream.resume();
        const kept = await this.clear(parts, target, true);
        if (!kept) await mkdir(target, { mode: 0o755 });
        this.made.add(rel);
        this.safeDirs.add(rel);
        this.dirs.set(rel, { path: target, mode, mtime: header.mtime });
        await this.own(target, header);
        return;
      }
      case 'file':
      case 'contiguous-file': {
        await this.clear(parts, target, false);
        this.made.add(rel);
        await this.writeFile(target, header, mode, stream);
        this.stats.fileBytes += header.size ?? 0;
        return;
      }
      case 'symlink': {
        stream.resume();
        await this.clear(parts, target, false);
        this.made.add(rel);
        await symlink(header.linkname ?? '', target);
        await this.own(target, header);
        if (header.mtime) await lutimes(target, header.mtime, header.mtime);
        return;
      }
      case 'link': {
        stream.resume();
        const source = await this.linkSource(header, decision.linkParts ?? []);
        await this.clear(parts, target, false);
        this.made.add(rel);
        await link(source, target);
        return;
      }
      case 'character-device':
      case 'block-device': {
        stream.resume();
        // the policy let through 0:0 character devices (whiteouts) alone
        const major = header.devmajor ?? 0;
        const minor = header.devminor ?? 0;
        await this.clear(parts, target, false);
        this.made.add(rel);
        const type = header.type === 'character-device' ? 'c' : 'b';
        await this.special.device(target, type, major, minor, mode);
        break;
      }
      case 'fifo': {
        stream.resume();
        await this.clear(parts, target, false);
        this.made.add(rel);
        await this.special.fifo(target, mode);
        break;
      }
      default:
        // pax/gnu headers are folded in by tar-stream; anything else is skipped, like tar does.
        stream.resume();
        return;
    }
    await this.own(target, header);
    await chmod(target, mode);
    if (header.mtime) await utimes(target, header.mtime, header.mtime);
  }

  /**
   * writeFile writes a regular file and sets its owner, mode and time through its open
   * handle: few system calls per file, which is what small-file layers cost.
   */
  private async writeFile(target: string, header: Header, mode: number, stream: AsyncIterable<unknown> | Iterable<unknown>): Promise<void> {
    const file = await open(target, 'wx', 0o600);
    try {
      let batch: Buffer[] = [];
      let batched = 0;
      for await (const chunk of stream) {
        batch.push(chunk as Buffer);
        batched += (chunk as Buffer).length;
        if (batched >= WRITE_BATCH) {
          await file.writev(batch);
          batch = [];
          batched = 0;
        }
      }
      if (batch.length > 0) await file.writev(batch);
      // Files made by root belong to 0:0 already (directories get no setgid bit until finish()).
      const uid = header.uid ?? 0;
      const gid = header.gid ?? 0;
      if (this.preserveOwner && (uid !== 0 || gid !== 0)) await file.chown(uid, gid);
      // after chown, which clears set-id bits
      await file.chmod(mode);
      if (header.mtime) await file.utimes(header.mtime, header.mtime);
    } finally {
      await file.close();
    }
  }

  /** addTinyFile queues a small file for the writer thread; open(2) applies plain permission bits less the umask. */
  private addTinyFile(target: string, header: Header, mode: number, content: Buffer): void {
    const uid = header.uid ?? 0;
    const gid = header.gid ?? 0;
    const chown = this.preserveOwner && (uid !== 0 || gid !== 0);
    // set-id bits, and any mode after chown (which clears them), need fchmod
    const exact = !chown && mode <= 0o777 && (mode & UMASK) === 0;
    // a Buffer may be a view of an 8 KiB pool, which a message would copy whole: send only its bytes
    const own = content.byteLength === content.buffer.byteLength ? content : new Uint8Array(content);
    this.batch.push({ path: target, content: own, openMode: exact ? mode : 0o600, mode, chmod: !exact, chown, uid, gid, mtime: header.mtime });
    this.batchBytes += content.length;
  }

  /** flushBatch hands the queued small files to the writer thread, as one pending write. */
  private async flushBatch(): Promise<void> {
    if (this.batch.length === 0) return;
    const files = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    const write = this.tinyWriter.write(files).catch((err: unknown) => {
      this.writeError ??= err;
    });
    this.pending.add(write);
    void write.finally(() => this.pending.delete(write));
    if (this.pending.size >= MAX_PENDING) await Promise.race(this.pending);
  }

  /** writeSmallFile is writeFile for a body in memory, through fs callbacks: cheaper per file than FileHandle. */
  private writeSmallFile(target: string, header: Header, mode: number, content: Buffer): Promise<void> {
    const uid = header.uid ?? 0;
    const gid = header.gid ?? 0;
    const chown = this.preserveOwner && (uid !== 0 || gid !== 0);
    return new Promise((resolve, reject) => {
      fs.open(target, 'wx', 0o600, (openErr, fd) => {
        if (openErr) {
          reject(openErr);
          return;
        }
        const close = (err: unknown): void => fs.close(fd, (closeErr) => (err || closeErr ? reject(err ?? closeErr) : resolve()));
        const times = (): void => {
          if (header.mtime) fs.futimes(fd, header.mtime, header.mtime, (err) => close(err));
          else close(null);
        };
        const modeThenTimes = (): void => fs.fchmod(fd, mode, (err) => (err ? close(err) : times()));
        const owner = (): void => (chown ? fs.fchown(fd, uid, gid, (err) => (err ? close(err) : modeThenTimes())) : modeThenTimes());
        if (content.length === 0) {
          owner();
          return;
        }
        fs.write(fd, content, 0, content.length, 0, (err, written) => {
          if (err) close(err);
          else if (written !== content.length) close(new Error(`short write to ${target}`));
          else owner();
        });
      });
    });
  }

  /** finish sets directory modes and times last, deepest first, as entries inside changed them. */
  async finish(): Promise<void> {
    await this.drain();
    const dirs = [...this.dirs.values()].sort((a, b) => b.path.length - a.path.length);
    for (const dir of dirs) {
      await chmod(dir.path, dir.mode);
      if (dir.mtime) await utimes(dir.path, dir.mtime, dir.mtime);
    }
  }

  /** drain waits for the writes running and throws the first that failed. */
  private async drain(): Promise<void> {
    await this.settle();
    if (this.writeError !== undefined) throw this.writeError;
  }

  /** settle waits for the writes running, whatever their outcome. */
  async settle(): Promise<void> {
    await this.flushBatch();
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** ensureParents makes missing parent directories and refuses a parent that is a symlink or a file. */
  private async ensureParents(name: string, parentParts: string[]): Promise<void> {
    let rel = '';
    for (const part of parentParts) {
      rel = rel === '' ? part : `${rel}/${part}`;
      if (this.safeDirs.has(rel)) continue;
      const path = join(this.root, rel);
      // A path this run made that is not a known directory may still be being written.
      if (this.made.has(rel)) await this.drain();
      const stat = !this.made.has(rel)
        ? undefined
        : await lstat(path).catch((err: NodeJS.ErrnoException) => {
            if (err.code === 'ENOENT') return undefined;
            throw err;
          });
      if (stat === undefined) {
        await mkdir(path, { mode: 0o755 });
        this.made.add(rel);
        this.dirs.set(rel, { path, mode: 0o755, mtime: undefined });
      } else if (stat.isSymbolicLink()) {
        throw new InvalidTarError(`entry '${name}' goes through the symlink '${rel}'`);
      } else if (!stat.isDirectory()) {
        throw new InvalidTarError(`entry '${name}' goes through '${rel}', which is not a directory`);
      }
      this.safeDirs.add(rel);
    }
  }

  /**
   * clear removes what is at target so a later entry can replace it, as tar does. It keeps
   * an existing directory when keepDir is set, and says so.
   */
  private async clear(parts: string[], target: string, keepDir: boolean): Promise<boolean> {
    const rel = parts.join('/');
    if (!this.made.has(rel)) return false;
    const stat = await lstat(target).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (stat === undefined) return false;
    if (keepDir && stat.isDirectory()) return true;
    await rm(target, { recursive: true, force: true });
    for (const path of [...this.made]) {
      if (path === rel || path.startsWith(`${rel}/`)) this.made.delete(path);
    }
    for (const dir of [...this.safeDirs]) {
      if (dir === rel || dir.startsWith(`${rel}/`)) this.safeDirs.delete(dir);
    }
    for (const dir of [...this.dirs.keys()]) {
      if (dir === rel || dir.startsWith(`${rel}/`)) this.dirs.delete(dir);
    }
    return false;
  }

  /** linkSource resolves a hard link's target inside this layer, through real directories only. */
  private async linkSource(header: Header, parts: readonly string[]): Promise<string> {
    let rel = '';
    for (const part of parts.slice(0, -1)) {
      rel = rel === '' ? part : `${rel}/${part}`;
      if (this.safeDirs.has(rel)) continue;
      const stat = await lstat(join(this.root, rel)).catch(() => undefined);
      if (stat === undefined || !stat.isDirectory()) {
        throw new InvalidTarError(`hard link '${header.name}' points at '${header.linkname}', which is not in this layer`);
      }
    }
    const source = join(this.root, ...parts);
    const stat = await lstat(source).catch(() => undefined);
    if (stat === undefined || stat.isDirectory()) {
      throw new InvalidTarError(`hard link '${header.name}' points at '${header.linkname}', which is not a file of this layer`);
    }
    return source;
  }

  private async own(path: string, header: Header): Promise<void> {
    if (this.preserveOwner) await lchown(path, header.uid ?? 0, header.gid ?? 0);
  }
}

/** readAll reads a small entry's body whole. */
async function readAll(stream: TarEntryStream, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream) {
    length += (chunk as Buffer).length;
    if (length > limit) throw new InvalidTarError('entry is longer than its header says');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
