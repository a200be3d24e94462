import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ArborError } from '@arbor/core';

/**
 * SECCOMP_PROFILE_PATH is native/common/seccomp-profile.txt: the one seccomp allowlist of
 * unprivileged containers (Docker's default profile, resolved for the 14 default
 * capabilities). The linux backend's helpers carry it compiled to BPF (native/common/seccomp-gen.c);
 * runcConfig writes it into config.json from here. Its header gives the format.
 */
export const SECCOMP_PROFILE_PATH = resolve(__dirname, '..', '..', '..', 'native', 'common', 'seccomp-profile.txt');

/** OciSeccompArg compares argument index of a call, as in config.json's linux.seccomp. */
export interface OciSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: 'SCMP_CMP_EQ' | 'SCMP_CMP_NE' | 'SCMP_CMP_LT' | 'SCMP_CMP_LE' | 'SCMP_CMP_GT' | 'SCMP_CMP_GE' | 'SCMP_CMP_MASKED_EQ';
}

export interface OciSeccompRule {
  names: string[];
  action: 'SCMP_ACT_ALLOW' | 'SCMP_ACT_ERRNO';
  errnoRet?: number;
  args?: OciSeccompArg[];
}

/** OciSeccomp is config.json's linux.seccomp. */
export interface OciSeccomp {
  defaultAction: 'SCMP_ACT_ERRNO';
  defaultErrnoRet: number;
  architectures: string[];
  syscalls: OciSeccompRule[];
}

const EPERM = 1;
/** HOSTS maps process.arch to the profile's host names, like 'x64' to 'x86_64'. */
const HOSTS: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64' };
const ARCHES: Record<string, string> = {
  x86_64: 'SCMP_ARCH_X86_64',
  x86: 'SCMP_ARCH_X86',
  x32: 'SCMP_ARCH_X32',
  aarch64: 'SCMP_ARCH_AARCH64',
  arm: 'SCMP_ARCH_ARM',
};
const OPS: Record<string, OciSeccompArg['op']> = {
  '==': 'SCMP_CMP_EQ',
  '!=': 'SCMP_CMP_NE',
  '<': 'SCMP_CMP_LT',
  '<=': 'SCMP_CMP_LE',
  '>': 'SCMP_CMP_GT',
  '>=': 'SCMP_CMP_GE',
};

/**
 * parseSeccompProfile turns the profile's text into config.json's linux.seccomp for a host of
 * arch (process.arch, like 'x64'), reading it exactly as seccomp-gen does: rules "on" another
 * host are left out, a deny is an explicit EPERM (which runc skips as the default, but counts
 * for its ENOSYS rule, as seccomp-gen does). Names stay as they are: runc leaves out those its
 * libseccomp does not know.
 * @throws Error naming the line of a rule it cannot read, or a call given two rules
 */
export function parseSeccompProfile(text: string, arch: string): OciSeccomp {
  const host = HOSTS[arch];
  if (!host) throw new Error(`seccomp profile: no architectures for a host of ${arch}`);
  let defaultErrnoRet: number | undefined;
  const architectures: string[] = [];
  const syscalls: OciSeccompRule[] = [];
  const seen = new Map<string, boolean>(); // name -> conditional
  const note = (name: string, conditional: boolean, fail: (why: string) => never) => {
    const before = seen.get(name);
    if (before !== undefined && (!before || !conditional)) fail(`${name} has a rule already`);
    seen.set(name, conditional);
  };

  text.split('\n').forEach((raw, i) => {
    const fail = (why: string): never => {
      throw new Error(`seccomp profile line ${i + 1}: ${why}`);
    };
    let tok = (raw.split('#')[0] ?? '').split(/\s+/).filter(Boolean);
    const on = tok.indexOf('on');
    if (on >= 0) {
      if (on === tok.length - 1) fail("'on' names no host");
      const hosts = tok.slice(on + 1);
      tok = tok.slice(0, on);
      if (!hosts.includes(host)) return;
    }
    if (tok.length === 0) return;
    const [word] = tok;
    if (word === 'default') {
      if (tok.length !== 3 || tok[1] !== 'errno') fail("the default is 'default errno N'");
      defaultErrnoRet = errnoOf(tok[2] as string, fail);
      return;
    }
    if (word === 'arch') {
      for (const a of tok.slice(1)) architectures.push(ARCHES[a] ?? fail(`unknown architecture ${a}`));
      return;
    }
    let action: OciSeccompRule['action'];
    let errnoRet: number | undefined;
    let first = 1;
    if (word === 'allow') action = 'SCMP_ACT_ALLOW';
    else if (word === 'deny') [action, errnoRet] = ['SCMP_ACT_ERRNO', EPERM];
    else if (word === 'errno' && tok.length >= 3) [action, errnoRet, first] = ['SCMP_ACT_ERRNO', errnoOf(tok[1] as string, fail), 2];
    else return fail(`unknown rule '${word}'`);
    const cond = tok.indexOf('if');
    const names = tok.slice(first, cond < 0 ? undefined : cond);
    if (names.length === 0) fail('a rule names no call');
    const base = { action, ...(errnoRet !== undefined && { errnoRet }) };
    if (cond < 0) {
      for (const name of names) note(name, false, fail);
      syscalls.push({ names, ...base });
      return;
    }
    if (names.length !== 1) fail('a rule with a condition names one call');
    if (action !== 'SCMP_ACT_ALLOW') fail('only allow takes a condition');
    for (const args of conditions(tok.slice(cond), fail)) {
      note(names[0] as string, true, fail);
      syscalls.push({ names, ...base, args });
    }
  });
  if (defaultErrnoRet === undefined) throw new Error("seccomp profile: no 'default errno N' line");
  if (architectures.length === 0) throw new Error(`seccomp profile: no 'arch ... on ${host}' line`);
  return { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet, architectures, syscalls };
}

/** conditions reads "if aI OP V..." into one comparison (an args list of one) per value. */
function conditions(tok: string[], fail: (why: string) => never): OciSeccompArg[][] {
  const index = /^a([0-5])$/.exec(tok[1] ?? '')?.[1];
  if (tok.length < 4 || index === undefined) fail("a condition is 'if aI OP VALUE' with I from 0 to 5");
  const arg = Number(index);
  if (tok[2] === '&') {
    if (tok.length !== 6 || tok[4] !== '==') fail("a masked condition is 'if aI & MASK == VALUE'");
    return [[{ index: arg, value: numberOf(tok[3] as string, fail), valueTwo: numberOf(tok[5] as string, fail), op: 'SCMP_CMP_MASKED_EQ' }]];
  }
  const op = OPS[tok[2] as string] ?? fail(`unknown comparison '${tok[2]}'`);
  if (op !== 'SCMP_CMP_EQ' && tok.length !== 4) fail('only == takes several values');
  return tok.slice(3).map((v) => [{ index: arg, value: numberOf(v, fail), op }]);
}

/** numberOf reads a decimal or 0x number, as seccomp-gen does (no octal, nothing above 2^53). */
function numberOf(text: string, fail: (why: string) => never): number {
  if (!/^(0|[1-9][0-9]*|0x[0-9a-fA-F]+)$/.test(text) || !Number.isSafeInteger(Number(text))) fail(`'${text}' is not a number`);
  return Number(text);
}

function errnoOf(text: string, fail: (why: string) => never): number {
  const n = numberOf(text, fail);
  if (n === 0 || n > 4095) fail(`errno ${text} is out of range`);
  return n;
}

let cached: { arch: string; profile: OciSeccomp } | undefined;

/**
 * containerSeccomp is config.json's linux.seccomp for an unprivileged container on a host of
 * arch, read from SECCOMP_PROFILE_PATH once.
 * @throws ArborError internal, saying the profile cannot be read or parsed
 */
export function containerSeccomp(arch: string): OciSeccomp {
  if (cached?.arch !== arch) {
    try {
      cached = { arch, profile: parseSeccompProfile(readFileSync(SECCOMP_PROFILE_PATH, 'utf8'), arch) };
    } catch (err) {
      throw new ArborError('internal', `runcConfig: seccomp profile ${SECCOMP_PROFILE_PATH}: ${(err as Error).message}`, { cause: err });
    }
  }
  return cached.profile;
}
