// Paths are matched by a hash of their text in unique keys: a 2,000-character unicode path is longer
// than a B-tree key may be. The path itself is always stored next to it, as a value.
import { createHash } from 'node:crypto';

export const pathHash = (path: string): string => createHash('sha256').update(path).digest('hex');
