// The syntax tree of the fake sh: a POSIX shell subset (see the package README).

export interface ParamOp {
  /** type: '-' default, '=' assign, '+' alternative, '?' error, '#' length. */
  type: '-' | '=' | '+' | '?' | '#';
  /** colon: the ':' forms also treat an empty value as unset. */
  colon: boolean;
  word: Word;
}

export type WordPart =
  | { kind: 'lit'; text: string; quoted: boolean }
  | { kind: 'param'; name: string; quoted: boolean; op?: ParamOp }
  | { kind: 'cmdsub'; script: string; quoted: boolean }
  | { kind: 'arith'; expr: string; quoted: boolean };

export type Word = WordPart[];

export type RedirectOp = '>' | '>>' | '>|' | '<' | '<>' | '>&' | '<&' | '&>' | '<<' | '<<-';

/** HereDocument is the body of a <<WORD redirection, filled in when the lexer reaches it. */
export interface HereDocument {
  body: string;
  /** expand: the delimiter was unquoted, so $ and ` work in the body. */
  expand: boolean;
}

export interface Redirect {
  /** fd is the number before the operator, like 2 in 2>&1; undefined means the default. */
  fd: number | undefined;
  op: RedirectOp;
  target: Word;
  hereDocument?: HereDocument;
}

export interface Assignment {
  name: string;
  value: Word;
}

export interface SimpleCommand {
  type: 'simple';
  assigns: Assignment[];
  words: Word[];
  redirs: Redirect[];
  /** line is where the command starts in the script, counted from 0, for error messages. */
  line: number;
}

export type Command =
  | SimpleCommand
  | { type: 'subshell'; body: List; redirs: Redirect[] }
  | { type: 'group'; body: List; redirs: Redirect[] }
  | { type: 'if'; branches: Array<{ cond: List; body: List }>; otherwise: List | undefined; redirs: Redirect[] }
  | { type: 'loop'; until: boolean; cond: List; body: List; redirs: Redirect[] }
  | { type: 'for'; name: string; items: Word[] | undefined; body: List; redirs: Redirect[] }
  | { type: 'case'; word: Word; items: Array<{ patterns: Word[]; body: List | undefined }>; redirs: Redirect[] }
  | { type: 'function'; name: string; body: Command };

export interface Pipeline {
  negate: boolean;
  commands: Command[];
}

export interface AndOr {
  first: Pipeline;
  rest: Array<{ op: '&&' | '||'; pipeline: Pipeline }>;
}

export interface List {
  items: Array<{ andOr: AndOr; background: boolean }>;
}
