import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** PACKAGES is packages/ of this repo. */
const PACKAGES = resolve(__dirname, '..', '..');

interface Manifest {
  name: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

function manifests(): Manifest[] {
  return readdirSync(PACKAGES, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .flatMap((e) => {
      try {
        return [JSON.parse(readFileSync(join(PACKAGES, e.name, 'package.json'), 'utf8')) as Manifest];
      } catch {
        return [];
      }
    });
}

const isBackend = (name: string): boolean => /^@arbor\/backend-/.test(name);

describe('package layering', () => {
  it('finds the backends it checks', () => {
    expect(
      manifests()
        .map((m) => m.name)
        .filter(isBackend)
        .sort(),
    ).toEqual(expect.arrayContaining(['@arbor/backend-fake', '@arbor/backend-linux', '@arbor/backend-runc']));
  });

  it('has no backend depend on another backend: what they share lives in @arbor/host and the port packages', () => {
    const crossings = manifests()
      .filter((m) => isBackend(m.name))
      .flatMap((m) =>
        Object.keys({ ...m.dependencies, ...m.devDependencies })
          .filter((dep) => isBackend(dep) && dep !== m.name)
          .map((dep) => `${m.name} -> ${dep}`),
      );
    expect(crossings).toEqual([]);
  });
});
