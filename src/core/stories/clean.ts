/**
 * What a person typed, made safe to read: markup (HTML, Slack mrkdwn, Markdown), links, mentions
 * and sentences addressed to a language model are taken out before the description is read, and
 * their presence is recorded, because a description that needed cleaning is a weaker basis for a
 * story (the confidence score caps it).
 */

export interface CleanedDescription {
  text: string;
  /** HTML tags, mrkdwn or Markdown formatting were present. */
  markup: boolean;
  /** A sentence told a model what to do ("ignore previous instructions", "system prompt"). */
  injection: boolean;
  links: number;
}

const INJECTION: RegExp[] = [
  /\b(ignore|disregard|forget)\b[^.!?\n]{0,40}\b(instructions?|prompts?|rules|messages?|context)\b/i,
  /\b(system|developer)\s+(prompt|message|instructions?)\b/i,
  /\byou are (now|no longer)\b/i,
  /\b(reveal|print|show|repeat|output)\b[^.!?\n]{0,30}\b(your|the)\s+(instructions|prompt|api[ -]?key|secrets?)\b/i,
  /\bjailbreak|\bDAN mode\b|<\|im_start\|>|\[\/?INST\]/i,
];

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', '#39': "'" };

function stripHtml(s: string): { text: string; found: boolean } {
  if (!/<\/?[a-z][\w-]*(\s[^<>]*)?\/?>|&(amp|lt|gt|quot|apos|nbsp|#39);/i.test(s)) return { text: s, found: false };
  const text = s
    .replace(/<(script|style|iframe|object)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<\/?[a-z][\w-]*(\s[^<>]*)?\/?>/gi, ' ')
    .replace(/&(amp|lt|gt|quot|apos|nbsp|#39);/gi, (_, e: string) => ENTITIES[e.toLowerCase()] ?? ' ');
  return { text, found: true };
}

function stripMrkdwn(s: string): { text: string; found: boolean; links: number } {
  let found = false;
  let links = 0;
  const text = s
    // Slack: <https://x|label>, <@U123>, <#C123|name>, <!here>
    .replace(/<(https?:\/\/[^|>\s]+)(?:\|([^>]*))?>/g, (_, _url: string, label?: string) => ((found = true), links++, label ?? ' '))
    .replace(/<[@#!][^>]*>/g, () => ((found = true), ' '))
    // Markdown links and images: [label](url)
    .replace(/!?\[([^\]]*)\]\((?:[^)\s]+)\)/g, (_, label: string) => ((found = true), links++, label))
    .replace(/```[\s\S]*?```/g, () => ((found = true), ' '))
    // A code span naming a thing (`config.yaml`) is kept; code (`DROP TABLE users;`) is not a description.
    .replace(/`([^`]*)`/g, (_, c: string) => ((found = true), /^[\w./-]+$/.test(c.trim()) ? c : ' '))
    .replace(/(\*\*|__|\*|_|~~|~)(?=\S)([^*_~\n]+?)(?<=\S)\1/g, (_, _m: string, c: string) => ((found = true), c))
    .replace(/^\s{0,3}(#{1,6}|>|[-*+]|\d+\.)\s+/gm, () => ((found = true), ''));
  return { text, found, links };
}

export function cleanDescription(raw: string): CleanedDescription {
  let s = raw.normalize('NFKC').replace(/[\u200B-\u200F\u2028\u2029\u202A-\u202E\u2060-\u2064\uFEFF]/g, '');
  s = s.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g, ' ');
  const html = stripHtml(s);
  const md = stripMrkdwn(html.text);
  s = md.text;
  let links = md.links;
  s = s.replace(/\bhttps?:\/\/\S+/gi, () => (links++, ' '));
  // Gherkin written into the description: its keywords are not part of the idea.
  s = s.replace(/^\s*(Feature|Scenario(?: Outline)?|Background|Examples|Given|When|Then|And|But)\s*:\s*/gim, '');
  // Table pipes and comment marks are Gherkin syntax, not words.
  s = s.replace(/\s*\|\s*/g, ' ').replace(/(^|\s)#+(?=\s|$)/g, ' ');
  const sentences = s.split(/(?<=[.!?;])\s+|\n+/);
  const kept = sentences.filter((x) => !INJECTION.some((re) => re.test(x)));
  return {
    text: kept.join(' ').replace(/\s+/g, ' ').replace(/\s+([,.;:!?])/g, '$1').trim(),
    markup: html.found || md.found,
    injection: kept.length < sentences.length,
    links,
  };
}
