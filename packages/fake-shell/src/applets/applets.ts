import type { Program } from '@arbor/backend-fake';
import { sh } from '../shell/sh-applet';
import { echo, env, falseApplet, hostname, id, printf, pwd, sleep, stty, trueApplet, whoami, yes } from './basic-applets';
import { cat, chmod, head, ln, ls, mkdir, rm, rmdir, touch, wc } from './file-applets';
import { busybox, kill, test } from './misc-applets';
import { dd, tr } from './text-applets';
import { basename, cp, cut, dirname, grep, mv, seq, sort, tail, tee } from './line-applets';

/** APPLETS are the commands the fake busybox runs, by the name they are invoked as. */
export const APPLETS: ReadonlyMap<string, Program> = new Map<string, Program>([
  ['[', test],
  ['basename', basename],
  ['busybox', busybox],
  ['cat', cat],
  ['chmod', chmod],
  ['cp', cp],
  ['cut', cut],
  ['dd', dd],
  ['dirname', dirname],
  ['echo', echo],
  ['env', env],
  ['false', falseApplet],
  ['grep', grep],
  ['head', head],
  ['hostname', hostname],
  ['id', id],
  ['kill', kill],
  ['ln', ln],
  ['ls', ls],
  ['mkdir', mkdir],
  ['mv', mv],
  ['printf', printf],
  ['pwd', pwd],
  ['rm', rm],
  ['rmdir', rmdir],
  ['seq', seq],
  ['sh', sh],
  ['sleep', sleep],
  ['sort', sort],
  ['stty', stty],
  ['tail', tail],
  ['tee', tee],
  ['test', test],
  ['touch', touch],
  ['tr', tr],
  ['true', trueApplet],
  ['wc', wc],
  ['whoami', whoami],
  ['yes', yes],
]);
