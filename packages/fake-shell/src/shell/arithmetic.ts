/** ArithmeticError is a $((...)) the fake sh cannot evaluate. */
export class ArithmeticError extends Error {}

const BINARY: Array<{ ops: string[] }> = [
  { ops: ['||'] },
  { ops: ['&&'] },
  { ops: ['==', '!='] },
  { ops: ['<=', '>=', '<', '>'] },
  { ops: ['+', '-'] },
  { ops: ['*', '/', '%'] },
];

/**
 * evaluateArithmetic computes a $((...)) expression: integers, variables (unset is 0),
 * + - * / % comparisons && || ! and parentheses.
 */
export function evaluateArithmetic(expr: string, lookup: (name: string) => string | undefined): number {
  const tokens = expr.match(/\d+|[A-Za-z_][A-Za-z0-9_]*|\|\||&&|==|!=|<=|>=|[-+*/%()<>!]|\S/g) ?? [];
  let i = 0;
  const peek = (): string | undefined => tokens[i];
  const variable = (name: string): number => {
    const text = (lookup(name) ?? '').trim();
    if (text === '') return 0;
    if (!/^[-+]?\d+$/.test(text)) throw new ArithmeticError(`arithmetic syntax error`);
    return Number(text);
  };
  const unary = (): number => {
    const t = tokens[i++];
    if (t === undefined) throw new ArithmeticError('arithmetic syntax error');
    if (t === '-') return -unary();
    if (t === '+') return unary();
    if (t === '!') return unary() === 0 ? 1 : 0;
    if (t === '(') {
      const v = binary(0);
      if (tokens[i++] !== ')') throw new ArithmeticError('arithmetic syntax error');
      return v;
    }
    if (/^\d+$/.test(t)) return Number(t);
    if (/^[A-Za-z_]/.test(t)) return variable(t);
    throw new ArithmeticError('arithmetic syntax error');
  };
  const binary = (level: number): number => {
    if (level >= BINARY.length) return unary();
    let left = binary(level + 1);
    for (;;) {
      const op = peek();
      if (op === undefined || !(BINARY[level] as { ops: string[] }).ops.includes(op)) return left;
      i++;
      const right = binary(level + 1);
      left = apply(op, left, right);
    }
  };
  if (tokens.length === 0) return 0;
  const value = binary(0);
  if (i < tokens.length) throw new ArithmeticError('arithmetic syntax error');
  return value;
}

function apply(op: string, a: number, b: number): number {
  switch (op) {
    case '||':
      return a !== 0 || b !== 0 ? 1 : 0;
    case '&&':
      return a !== 0 && b !== 0 ? 1 : 0;
    case '==':
      return a === b ? 1 : 0;
    case '!=':
      return a !== b ? 1 : 0;
    case '<=':
      return a <= b ? 1 : 0;
    case '>=':
      return a >= b ? 1 : 0;
    case '<':
      return a < b ? 1 : 0;
    case '>':
      return a > b ? 1 : 0;
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
    case '%':
      if (b === 0) throw new ArithmeticError('divide by zero');
      return op === '/' ? Math.trunc(a / b) : a % b;
    default:
      throw new ArithmeticError('arithmetic syntax error');
  }
}
