// "Did you mean …?" for mistyped flags and commands (issue 10): the nearest known word by
// Damerau–Levenshtein distance (optimal string alignment: insert, delete, substitute, swap two
// neighbours), so `--endpoint`, `--endpionts` and `--endpoitns` all lead to `--endpoints`.

/** Edit distance between a and b where a swap of two adjacent characters costs 1. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  const at = (i: number, j: number): number => d[i * cols + j]!;
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, at(i - 2, j - 2) + 1);
      d[i * cols + j] = v;
    }
  }
  return at(rows - 1, cols - 1);
}

/**
 * The candidate nearest to `word`, or undefined when none is near enough to be a likely typo: at
 * most a third of the longer word's length in edits (at least 1, at most 3), or `word` is an
 * unambiguous prefix of exactly one candidate (`--end` → `--endpoints`). Ties go to the first.
 */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const dist = editDistance(word.toLowerCase(), c.toLowerCase());
    const allowed = Math.min(3, Math.max(1, Math.floor(Math.max(word.length, c.length) / 3)));
    if (dist <= allowed && dist < bestDistance) {
      best = c;
      bestDistance = dist;
    }
  }
  if (best !== undefined) return best;
  const prefixed = word.length >= 2 ? candidates.filter((c) => c.startsWith(word)) : [];
  return prefixed.length === 1 ? prefixed[0] : undefined;
}
