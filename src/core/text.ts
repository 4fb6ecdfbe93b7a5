/**
 * Cuts text to at most `max` characters at a line break (never inside a line, so never inside an
 * escape like &amp;), marking the cut with a last line "…". Chat renderers use it to fit limits.
 */
export function cutAtLine(text: string, max: number): { text: string; truncated: boolean } {
  if (text.length <= max) return { text, truncated: false };
  const cut = text.lastIndexOf('\n', max - 2);
  return { text: `${text.slice(0, cut > 0 ? cut : max - 2)}\n…`, truncated: true };
}
