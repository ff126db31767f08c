// Confidence intervals for shares: Wilson's score interval, which stays inside [0, 1] and
// behaves for small counts, unlike the normal approximation.

/** Two-sided Wilson interval for `successes` out of `n` (default 95 %, z = 1.96). */
export function wilson(successes: number, n: number, z = 1.96): { low: number; high: number } {
  if (n === 0) return { low: 0, high: 1 };
  const p = successes / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}
