import type { AndOr, Assignment, Command, HereDocument, List, ParamOp, Pipeline, Redirect, RedirectOp, Word, WordPart } from './ast';

/** ShellSyntaxError is a script the fake sh cannot parse; incomplete means it ended too early. */
export class ShellSyntaxError extends Error {
  constructor(
    message: string,
    readonly incomplete: boolean,
  ) {
    super(message);
    this.name = 'ShellSyntaxError';
  }
}

type Token =
  { type: 'word'; word: Word; raw: string } | { type: 'op'; op: string } | { type: 'redir'; op: RedirectOp; fd: number | undefined } | { type: 'eof' };

const OPERATORS = ['&&', '||', ';;', '<<-', '>>', '>&', '<&', '>|', '<>', '&>', '<<', ';', '&', '|', '(', ')', '<', '>', '\n'];
const REDIRECTS = new Set(['<<-', '<<', '>>', '>&', '<&', '>|', '<>', '&>', '<', '>']);
const META = new Set([' ', '\t', '\n', ';', '&', '|', '<', '>', '(', ')']);
const RESERVED = new Set(['if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'while', 'until', 'for', 'in', 'case', 'esac', '{', '}', '!']);
const SPECIAL_PARAMS = new Set(['?', '$', '#', '@', '*', '!', '-', '0']);

/** Lexer splits shell source into words (with their quoting) and operators. */
class Lexer {
  pos = 0;
  /** tokenStart is where the last token began. */
  tokenStart = 0;
  private lineCache = { pos: 0, line: 0 };
  constructor(private readonly src: string) {}

  /** lineAt counts the newlines before pos (positions only move forward). */
  lineAt(pos: number): number {
    const cache = this.lineCache;
    if (pos < cache.pos) cache.pos = cache.line = 0;
    for (let i = cache.pos; i < pos; i++) if (this.src[i] === '\n') cache.line++;
    cache.pos = pos;
    return cache.line;
  }

  next(): Token {
    this.skipBlanks();
    this.tokenStart = this.pos;
    if (this.pos >= this.src.length) return { type: 'eof' };
    const rest = this.src.slice(this.pos);
    const io = /^(\d+)(?=[<>])/.exec(rest);
    if (io) {
      this.pos += (io[1] as string).length;
      const t = this.operator();
      if (t.type === 'redir') return { ...t, fd: Number(io[1]) };
      throw new ShellSyntaxError('syntax error: bad redirection', false);
    }
    if (META.has(this.src[this.pos] as string) && this.src[this.pos] !== ' ') return this.operator();
    return this.word();
  }

  private readonly hereDocuments: Array<{ delimiter: string; strip: boolean; target: HereDocument }> = [];

  /** addHereDocument asks for a body to be read after the current line. */
  addHereDocument(delimiter: string, strip: boolean, target: HereDocument): void {
    this.hereDocuments.push({ delimiter, strip, target });
  }

  private readHereDocuments(): void {
    for (const doc of this.hereDocuments.splice(0)) {
      const lines: string[] = [];
      for (;;) {
        if (this.pos >= this.src.length) break;
        const end = this.src.indexOf('\n', this.pos);
        let line = end < 0 ? this.src.slice(this.pos) : this.src.slice(this.pos, end);
        this.pos = end < 0 ? this.src.length : end + 1;
        if (doc.strip) line = line.replace(/^\t+/, '');
        if (line === doc.delimiter) break;
        lines.push(`${line}\n`);
      }
      doc.target.body = lines.join('');
    }
  }

  private skipBlanks(): void {
    for (;;) {
      const c = this.src[this.pos];
      if (c === ' ' || c === '\t') this.pos++;
      else if (c === '\\' && this.src[this.pos + 1] === '\n') this.pos += 2;
      else if (c === '#') {
        while (this.pos < this.src.length && this.src[this.pos] !== '\n') this.pos++;
      } else return;
    }
  }

  private operator(): Token {
    for (const op of OPERATORS) {
      if (this.src.startsWith(op, this.pos)) {
        this.pos += op.length;
        if (op === '\n') this.readHereDocuments();
        if (REDIRECTS.has(op)) return { type: 'redir', op: op as RedirectOp, fd: undefined };
        return { type: 'op', op };
      }
    }
    throw new ShellSyntaxError(`syntax error: unexpected "${this.src[this.pos]}"`, false);
  }

  private word(): Token {
    const start = this.pos;
    const parts = readWord(this.src, this, 'word');
    return { type: 'word', word: parts, raw: this.src.slice(start, this.pos) };
  }
}

interface Cursor {
  pos: number;
}

/**
 * readWord reads one word at cursor.pos. mode 'double' reads the inside of "..." up to the
 * closing quote; 'all' reads to the end of src, blanks and operators included.
 */
function readWord(src: string, cur: Cursor, mode: 'word' | 'double' | 'all' | 'heredoc'): Word {
  const inDouble = mode === 'double' || mode === 'heredoc';
  const parts: WordPart[] = [];
  const lit = (text: string, quoted: boolean): void => {
    const last = parts[parts.length - 1];
    if (last?.kind === 'lit' && last.quoted === quoted) last.text += text;
    else parts.push({ kind: 'lit', text, quoted });
  };
  while (cur.pos < src.length) {
    const c = src[cur.pos] as string;
    if (inDouble) {
      if (c === '"' && mode === 'double') return parts;
      if (c === '\\') {
        const n = src[cur.pos + 1];
        if (n === undefined) throw new ShellSyntaxError('syntax error: unterminated quoted string', true);
        if (n === '\n') cur.pos += 2;
        else if ((mode === 'double' ? '$`"\\' : '$`\\').includes(n)) {
          lit(n, true);
          cur.pos += 2;
        } else {
          lit('\\', true);
          cur.pos++;
        }
        continue;
      }
    } else {
      if (mode === 'word' && META.has(c)) break;
      if (c === '\\') {
        const n = src[cur.pos + 1];
        if (n === undefined) {
          lit('\\', false);
          cur.pos++;
        } else if (n === '\n') cur.pos += 2;
        else {
          lit(n, true);
          cur.pos += 2;
        }
        continue;
      }
      if (c === "'") {
        const end = src.indexOf("'", cur.pos + 1);
        if (end < 0) throw new ShellSyntaxError('syntax error: unterminated quoted string', true);
        lit(src.slice(cur.pos + 1, end), true);
        // an empty '' still makes the word exist
        if (end === cur.pos + 1) lit('', true);
        cur.pos = end + 1;
        continue;
      }
      if (c === '"') {
        cur.pos++;
        const inner = readWord(src, cur, 'double');
        if (src[cur.pos] !== '"') throw new ShellSyntaxError('syntax error: unterminated quoted string', true);
        cur.pos++;
        if (inner.length === 0) lit('', true);
        for (const p of inner) {
          if (p.kind === 'lit') lit(p.text, true);
          else parts.push(p);
        }
        continue;
      }
    }
    if (c === '$') {
      parts.push(readDollar(src, cur, inDouble));
      continue;
    }
    if (c === '`') {
      parts.push({ kind: 'cmdsub', script: readBackquote(src, cur), quoted: inDouble });
      continue;
    }
    lit(c, inDouble);
    cur.pos++;
  }
  if (mode === 'double') throw new ShellSyntaxError('syntax error: unterminated quoted string', true);
  return parts;
}

function readDollar(src: string, cur: Cursor, quoted: boolean): WordPart {
  const n = src[cur.pos + 1];
  if (n === '{') {
    const end = matching(src, cur.pos + 2, '{', '}');
    const inner = src.slice(cur.pos + 2, end);
    cur.pos = end + 1;
    return parseBraced(inner, quoted);
  }
  if (n === '(') {
    if (src[cur.pos + 2] === '(') {
      const end = src.indexOf('))', cur.pos + 3);
      if (end < 0) throw new ShellSyntaxError('syntax error: unterminated $((', true);
      const expr = src.slice(cur.pos + 3, end);
      cur.pos = end + 2;
      return { kind: 'arith', expr, quoted };
    }
    const end = matching(src, cur.pos + 2, '(', ')');
    const script = src.slice(cur.pos + 2, end);
    cur.pos = end + 1;
    return { kind: 'cmdsub', script, quoted };
  }
  if (n !== undefined && /[A-Za-z_]/.test(n)) {
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(cur.pos + 1)) as RegExpExecArray;
    cur.pos += 1 + m[0].length;
    return { kind: 'param', name: m[0], quoted };
  }
  if (n !== undefined && (/\d/.test(n) || SPECIAL_PARAMS.has(n))) {
    cur.pos += 2;
    return { kind: 'param', name: n, quoted };
  }
  cur.pos++;
  return { kind: 'lit', text: '$', quoted };
}

function parseBraced(inner: string, quoted: boolean): WordPart {
  if (inner.startsWith('#') && inner.length > 1) {
    return { kind: 'param', name: inner.slice(1), quoted, op: { type: '#', colon: false, word: [] } };
  }
  const m = /^([A-Za-z_][A-Za-z0-9_]*|\d+|[?$#@*!\-0])(?:(:?)([-=+?])([\s\S]*))?$/.exec(inner);
  if (!m) throw new ShellSyntaxError(`syntax error: bad substitution`, false);
  const name = m[1] as string;
  if (m[3] === undefined) return { kind: 'param', name, quoted };
  const word = readWord(m[4] ?? '', { pos: 0 }, 'all').map((p) => ({ ...p, quoted: p.quoted || quoted }));
  const op: ParamOp = { type: m[3] as ParamOp['type'], colon: m[2] === ':', word };
  return { kind: 'param', name, quoted, op };
}

/** matching finds the closer of a '(' or '{' opened just before from, skipping quotes. */
function matching(src: string, from: number, open: string, close: string): number {
  let depth = 1;
  for (let i = from; i < src.length; i++) {
    const c = src[i];
    if (c === '\\') {
      i++;
    } else if (c === "'") {
      const end = src.indexOf("'", i + 1);
      if (end < 0) break;
      i = end;
    } else if (c === '"') {
      for (i++; i < src.length && src[i] !== '"'; i++) if (src[i] === '\\') i++;
    } else if (c === open) {
      depth++;
    } else if (c === close && --depth === 0) {
      return i;
    }
  }
  throw new ShellSyntaxError(`syntax error: missing '${close}'`, true);
}

function readBackquote(src: string, cur: Cursor): string {
  let script = '';
  for (let i = cur.pos + 1; i < src.length; i++) {
    const c = src[i];
    if (c === '\\' && '`$\\'.includes(src[i + 1] ?? '')) {
      script += src[++i];
    } else if (c === '`') {
      cur.pos = i + 1;
      return script;
    } else {
      script += c;
    }
  }
  throw new ShellSyntaxError('syntax error: unterminated `', true);
}

/**
 * Parser reads complete commands one at a time (as ash does), so that the lines of a
 * script before a syntax error still run.
 */
export class Parser {
  private readonly lexer: Lexer;
  private peeked: Token | undefined;
  private tokenStart = 0;
  private error: unknown;

  constructor(src: string) {
    this.lexer = new Lexer(src);
  }

  /** next returns the next complete command (up to a newline), or undefined at the end. */
  next(): List | undefined {
    this.skipNewlines();
    if (this.peek().type === 'eof') return undefined;
    const items: List['items'] = [];
    for (;;) {
      const andOr = this.andOr();
      const t = this.peek();
      if (t.type === 'op' && (t.op === ';' || t.op === '&')) {
        this.advance();
        items.push({ andOr, background: t.op === '&' });
        const after = this.peek();
        if (after.type === 'eof' || (after.type === 'op' && after.op === '\n')) break;
        continue;
      }
      items.push({ andOr, background: false });
      if (t.type === 'eof' || (t.type === 'op' && t.op === '\n')) break;
      this.unexpected(t);
    }
    return { items };
  }

  private compoundList(stops: ReadonlySet<string>, expecting: string): List {
    const items: List['items'] = [];
    this.skipNewlines();
    for (;;) {
      const t = this.peek();
      if (t.type === 'eof') throw new ShellSyntaxError(`syntax error: unexpected end of file (expecting "${expecting}")`, true);
      if (this.isStop(t, stops)) break;
      const andOr = this.andOr();
      const sep = this.peek();
      if (sep.type === 'op' && (sep.op === ';' || sep.op === '&' || sep.op === '\n')) {
        this.advance();
        items.push({ andOr, background: sep.op === '&' });
        this.skipNewlines();
        continue;
      }
      items.push({ andOr, background: false });
      if (sep.type === 'eof') throw new ShellSyntaxError(`syntax error: unexpected end of file (expecting "${expecting}")`, true);
      if (!this.isStop(sep, stops)) this.unexpected(sep);
      break;
    }
    if (items.length === 0) this.unexpected(this.peek());
    return { items };
  }

  private isStop(t: Token, stops: ReadonlySet<string>): boolean {
    if (t.type === 'op') return stops.has(t.op);
    return t.type === 'word' && isKeyword(t) && stops.has(t.raw);
  }

  private andOr(): AndOr {
    const first = this.pipeline();
    const rest: AndOr['rest'] = [];
    for (;;) {
      const t = this.peek();
      if (t.type !== 'op' || (t.op !== '&&' && t.op !== '||')) return { first, rest };
      this.advance();
      this.skipNewlines();
      rest.push({ op: t.op, pipeline: this.pipeline() });
    }
  }

  private pipeline(): Pipeline {
    let negate = false;
    const t = this.peek();
    if (t.type === 'word' && isKeyword(t) && t.raw === '!') {
      this.advance();
      negate = true;
    }
    const commands = [this.command()];
    for (;;) {
      const p = this.peek();
      if (p.type !== 'op' || p.op !== '|') return { negate, commands };
      this.advance();
      this.skipNewlines();
      commands.push(this.command());
    }
  }

  private command(): Command {
    const t = this.peek();
    if (t.type === 'op' && t.op === '(') {
      this.advance();
      const body = this.compoundList(new Set([')']), ')');
      this.expectOp(')');
      return { type: 'subshell', body, redirs: this.redirects() };
    }
    if (t.type === 'word' && isKeyword(t)) {
      switch (t.raw) {
        case '{': {
          this.advance();
          const body = this.compoundList(new Set(['}']), '}');
          this.expectWord('}');
          return { type: 'group', body, redirs: this.redirects() };
        }
        case 'if':
          return this.ifCommand();
        case 'while':
        case 'until': {
          this.advance();
          const cond = this.compoundList(new Set(['do']), 'do');
          this.expectWord('do');
          const body = this.compoundList(new Set(['done']), 'done');
          this.expectWord('done');
          return { type: 'loop', until: t.raw === 'until', cond, body, redirs: this.redirects() };
        }
        case 'for':
          return this.forCommand();
        case 'case':
          return this.caseCommand();
        default:
          this.unexpected(t);
      }
    }
    return this.simple();
  }

  private ifCommand(): Command {
    this.advance();
    const branches: Array<{ cond: List; body: List }> = [];
    let otherwise: List | undefined;
    for (;;) {
      const cond = this.compoundList(new Set(['then']), 'then');
      this.expectWord('then');
      const body = this.compoundList(new Set(['elif', 'else', 'fi']), 'fi');
      branches.push({ cond, body });
      const t = this.advance();
      if (t.type === 'word' && t.raw === 'elif') continue;
      if (t.type === 'word' && t.raw === 'else') {
        otherwise = this.compoundList(new Set(['fi']), 'fi');
        this.expectWord('fi');
      }
      break;
    }
    return { type: 'if', branches, otherwise, redirs: this.redirects() };
  }

  private forCommand(): Command {
    this.advance();
    const nameToken = this.advance();
    if (nameToken.type !== 'word' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(nameToken.raw)) {
      throw new ShellSyntaxError(`syntax error: bad for loop variable`, false);
    }
    let items: Word[] | undefined;
    this.skipNewlines();
    const t = this.peek();
    if (t.type === 'word' && t.raw === 'in') {
      this.advance();
      items = [];
      for (;;) {
        const w = this.peek();
        if (w.type !== 'word') break;
        items.push(w.word);
        this.advance();
      }
      const sep = this.peek();
      if (sep.type === 'op' && (sep.op === ';' || sep.op === '\n')) this.advance();
    } else if (t.type === 'op' && t.op === ';') {
      this.advance();
    }
    this.skipNewlines();
    this.expectWord('do');
    const body = this.compoundList(new Set(['done']), 'done');
    this.expectWord('done');
    return { type: 'for', name: nameToken.raw, items, body, redirs: this.redirects() };
  }

  private caseCommand(): Command {
    this.advance();
    const w = this.advance();
    if (w.type !== 'word') this.unexpected(w);
    this.skipNewlines();
    this.expectWord('in');
    const items: Array<{ patterns: Word[]; body: List | undefined }> = [];
    for (;;) {
      this.skipNewlines();
      const t = this.peek();
      if (t.type === 'word' && t.raw === 'esac') {
        this.advance();
        break;
      }
      if (t.type === 'eof') throw new ShellSyntaxError('syntax error: unexpected end of file (expecting "esac")', true);
      if (t.type === 'op' && t.op === '(') this.advance();
      const patterns: Word[] = [];
      for (;;) {
        const p = this.advance();
        if (p.type !== 'word') this.unexpected(p);
        patterns.push(p.word);
        const sep = this.advance();
        if (sep.type === 'op' && sep.op === '|') continue;
        if (sep.type === 'op' && sep.op === ')') break;
        this.unexpected(sep);
      }
      this.skipNewlines();
      const next = this.peek();
      let body: List | undefined;
      if (!(next.type === 'op' && next.op === ';;') && !(next.type === 'word' && next.raw === 'esac')) {
        body = this.compoundList(new Set([';;', 'esac']), 'esac');
      }
      items.push({ patterns, body });
      const end = this.peek();
      if (end.type === 'op' && end.op === ';;') this.advance();
    }
    return { type: 'case', word: w.word, items, redirs: this.redirects() };
  }

  private simple(): Command {
    const assigns: Assignment[] = [];
    const words: Word[] = [];
    const redirs: Redirect[] = [];
    this.peek();
    const line = this.lexer.lineAt(this.tokenStart);
    for (;;) {
      const t = this.peek();
      if (t.type === 'redir') {
        redirs.push(this.redirect());
      } else if (t.type === 'word') {
        this.advance();
        const first = words.length === 0 && assigns.length === 0 && redirs.length === 0;
        const open = first ? this.peek() : undefined;
        if (open?.type === 'op' && open.op === '(' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(t.raw)) {
          this.advance();
          this.expectOp(')');
          this.skipNewlines();
          return { type: 'function', name: t.raw, body: this.command() };
        }
        const assign = words.length === 0 ? asAssignment(t.word, t.raw) : undefined;
        if (assign) assigns.push(assign);
        else words.push(t.word);
      } else {
        break;
      }
    }
    if (assigns.length === 0 && words.length === 0 && redirs.length === 0) this.unexpected(this.peek());
    return { type: 'simple', assigns, words, redirs, line };
  }

  private redirects(): Redirect[] {
    const redirs: Redirect[] = [];
    while (this.peek().type === 'redir') redirs.push(this.redirect());
    return redirs;
  }

  private redirect(): Redirect {
    const t = this.advance() as Extract<Token, { type: 'redir' }>;
    const target = this.advance();
    if (target.type !== 'word') this.unexpected(target);
    if (t.op === '<<' || t.op === '<<-') {
      const hereDocument: HereDocument = { body: '', expand: target.word.every((p) => p.kind !== 'lit' || !p.quoted) };
      const delimiter = target.word.map((p) => (p.kind === 'lit' ? p.text : '')).join('');
      this.lexer.addHereDocument(delimiter, t.op === '<<-', hereDocument);
      return { fd: t.fd, op: t.op, target: target.word, hereDocument };
    }
    return { fd: t.fd, op: t.op, target: target.word };
  }

  private expectWord(word: string): void {
    const t = this.advance();
    if (t.type === 'word' && t.raw === word) return;
    if (t.type === 'eof') throw new ShellSyntaxError(`syntax error: unexpected end of file (expecting "${word}")`, true);
    this.unexpected(t);
  }

  private expectOp(op: string): void {
    const t = this.advance();
    if (t.type === 'op' && t.op === op) return;
    if (t.type === 'eof') throw new ShellSyntaxError(`syntax error: unexpected end of file (expecting "${op}")`, true);
    this.unexpected(t);
  }

  private skipNewlines(): void {
    for (;;) {
      const t = this.peek();
      if (t.type !== 'op' || t.op !== '\n') return;
      this.advance();
    }
  }

  private unexpected(t: Token): never {
    if (t.type === 'eof') throw new ShellSyntaxError('syntax error: unexpected end of file', true);
    const what = t.type === 'word' ? `"${t.raw}"` : t.type === 'op' ? (t.op === '\n' ? 'newline' : `"${t.op}"`) : `redirection`;
    throw new ShellSyntaxError(`syntax error: unexpected ${what}`, false);
  }

  /** atEnd says whether only blank lines are left. */
  atEnd(): boolean {
    this.skipNewlines();
    return this.peek().type === 'eof';
  }

  private peek(): Token {
    // a lexer error leaves the lexer mid-token: it stays the answer from then on
    if (this.error) throw this.error;
    try {
      if (this.peeked === undefined) {
        this.peeked = this.lexer.next();
        this.tokenStart = this.lexer.tokenStart;
      }
    } catch (err) {
      this.error = err;
      throw err;
    }
    return this.peeked;
  }

  private advance(): Token {
    const t = this.peek();
    this.peeked = undefined;
    return t;
  }
}

function isKeyword(t: Extract<Token, { type: 'word' }>): boolean {
  const only = t.word[0];
  return RESERVED.has(t.raw) && t.word.length === 1 && only?.kind === 'lit' && !only.quoted;
}

function asAssignment(word: Word, raw: string): Assignment | undefined {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(raw);
  const first = word[0];
  if (!m || first?.kind !== 'lit' || first.quoted || !first.text.startsWith(m[0])) return undefined;
  const rest = first.text.slice(m[0].length);
  const value: Word = rest === '' ? word.slice(1) : [{ kind: 'lit', text: rest, quoted: false }, ...word.slice(1)];
  return { name: m[1] as string, value };
}

/** parseHereDocument reads an unquoted here-document's body: $ and ` expand, quotes do not. */
export function parseHereDocument(text: string): Word {
  return readWord(text, { pos: 0 }, 'heredoc');
}

/** parseWordText reads text as one word with its quoting, for ${x:-word} and similar. */
export function parseWordText(text: string): Word {
  return readWord(text, { pos: 0 }, 'all');
}
