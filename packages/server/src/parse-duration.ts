const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * parseDuration turns '1500', '1500ms', '10s', '1.5m' or '2h' into whole milliseconds.
 * Returns undefined when text is not a duration.
 */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) return undefined;
  const ms = Math.round(Number(m[1]) * (units[m[2] ?? 'ms'] ?? 1));
  return Number.isSafeInteger(ms) ? ms : undefined;
}
