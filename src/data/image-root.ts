// Resolves a sample's image path inside the image folder and refuses any path that leaves it: absolute paths,
// `..` segments that climb out, and symlinks whose target is outside.
import { realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';

export class ImageRoot {
  private readonly real: string;

  constructor(readonly root: string) {
    try {
      this.real = realpathSync(root);
    } catch {
      throw new Error(`image folder ${root} does not exist`);
    }
  }

  /** The real path of `relPath`; throws if it is absolute, escapes the folder, or does not exist. */
  resolve(relPath: string): string {
    if (relPath.includes('\0')) throw new Error(`image path ${JSON.stringify(relPath)} contains a NUL byte`);
    if (isAbsolute(relPath))
      throw new Error(`image path ${relPath} is absolute; it must be relative to the image folder ${this.root}`);
    const joined = resolve(this.real, relPath);
    if (!inside(this.real, joined)) throw new Error(`image path ${relPath} leaves the image folder ${this.root}`);
    let real: string;
    try {
      real = realpathSync(joined);
    } catch {
      throw new Error(`image ${relPath} not found in ${this.root}`);
    }
    if (!inside(this.real, real))
      throw new Error(`image path ${relPath} is a link to ${real}, outside the image folder ${this.root}`);
    return real;
  }
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel);
}
