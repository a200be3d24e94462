import type { Credentials, FakeFilesystem } from '@arbor/backend-fake';

const META = new Set(['*', '?', '[']);

/** escapeGlob makes text match itself: quoted characters are not patterns. */
export function escapeGlob(c: string): string {
  return META.has(c) || c === ']' || c === '\\' ? `\\${c}` : c;
}

function hasMeta(pattern: string): boolean {
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] === '\\') i++;
    else if (META.has(pattern[i] as string)) return true;
  }
  return false;
}

function unescapeGlob(pattern: string): string {
  return pattern.replace(/\\(.)/g, '$1');
}

/** globToRegExp turns one path component's pattern (with \-escapes) into a RegExp. */
export function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '\\' && i + 1 < pattern.length) source += escapeRegExp(pattern[++i] as string);
    else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) source += '\\[';
      else {
        let set = pattern.slice(i + 1, end);
        if (set.startsWith('!')) set = `^${set.slice(1)}`;
        source += `[${set.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else source += escapeRegExp(c);
  }
  return new RegExp(`^${source}$`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * expandGlob matches pattern against the filesystem, as the shell's pathname expansion
 * does: names starting with '.' only match a pattern starting with '.', results are
 * sorted, and no match gives an empty list (the caller keeps the word as it was).
 */
export function expandGlob(fs: FakeFilesystem, cwd: string, cred: Credentials, pattern: string): string[] {
  const absolute = pattern.startsWith('/');
  const components = pattern.split('/').filter((c) => c !== '');
  let paths = [absolute ? '/' : ''];
  for (const component of components) {
    const next: string[] = [];
    for (const prefix of paths) {
      if (!hasMeta(component)) {
        next.push(join(prefix, unescapeGlob(component)));
        continue;
      }
      const dir = fs.tryResolve(prefix === '' ? '.' : prefix, { cwd, cred });
      if (!dir || dir.inode.kind !== 'dir' || !fs.canAccess(dir.inode, cred, 'r')) continue;
      const re = globToRegExp(component);
      for (const name of [...dir.inode.entries.keys()].sort()) {
        if (name.startsWith('.') && !component.startsWith('.') && !component.startsWith('\\.')) continue;
        if (re.test(name)) next.push(join(prefix, name));
      }
    }
    paths = next;
  }
  const exists = (p: string): boolean => {
    try {
      return fs.tryResolve(p, { cwd, cred, follow: false }) !== undefined;
    } catch {
      return false;
    }
  };
  return paths.filter(exists).sort();
}

function join(prefix: string, name: string): string {
  if (prefix === '') return name;
  return prefix === '/' ? `/${name}` : `${prefix}/${name}`;
}
