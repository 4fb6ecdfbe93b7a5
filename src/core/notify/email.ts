import nodemailer from 'nodemailer';
import type { ChangeSummary, RunSummary } from '../runs/model.js';
import { outcome, runUrl } from '../chat/presentation.js';

/**
 * Email over SMTP (nodemailer): approval requests to approvers who have an address, outcomes to
 * the requester. Plain text and HTML, links back to the run, nothing secret (no tokens, no
 * signed links: the console asks the reader to sign in).
 */

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface Mailer {
  send(message: MailMessage): Promise<void>;
  close(): void;
}

export function createSmtpMailer(opts: { smtpUrl: string; from: string }): Mailer {
  const transport = nodemailer.createTransport(opts.smtpUrl, { from: opts.from });
  return {
    async send(m) {
      await transport.sendMail({ from: opts.from, to: m.to, subject: m.subject, text: m.text, html: m.html });
    },
    close: () => transport.close(),
  };
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function changeLines(c: ChangeSummary | undefined): string[] {
  if (!c) return [];
  return [
    `What changes (${c.generator}): ${c.summary ?? ''}`,
    ...c.commits.slice(0, 10).map((x) => `  - ${x.sha.slice(0, 7)} ${x.subject} (${x.author})`),
    ...c.risks.map((r) => `  ! ${r.note}: ${r.files.slice(0, 5).join(', ')}`),
  ];
}

function html(lines: string[], link: { url: string; label: string }): string {
  const body = lines.map((l) => `<p style="margin:0 0 8px">${escapeHtml(l)}</p>`).join('\n');
  return `<!doctype html><html><body style="font-family:system-ui,sans-serif">${body}\n<p><a href="${escapeHtml(link.url)}">${escapeHtml(link.label)}</a></p></body></html>`;
}

/** "Approval needed": who asked, the commit, what changes, how to decide. */
export function approvalEmail(run: RunSummary & { kind: 'deploy' }, publicUrl: string, to: string): MailMessage {
  const url = runUrl(publicUrl, run.ref);
  const sha = String(run.result.sha ?? '').slice(0, 7);
  const lines = [
    `${run.requestedBy} asks to deploy ${run.input.repo} ${run.result.ref ?? ''} (${sha}) to ${run.input.environment} (${run.ref}).`,
    ...changeLines(run.result.changes),
    `Approve or reject with the buttons in chat, or type "approve ${run.ref}" / "reject ${run.ref} <reason>".`,
    `Expires ${run.result.approvals?.expiresAt ?? "when the environment's timeout passes"}.`,
  ];
  return { to, subject: `Approval needed: deploy ${run.input.repo} to ${run.input.environment} (${run.ref})`, text: `${lines.join('\n')}\n\n${url}\n`, html: html(lines, { url, label: `Open ${run.ref} in AutoDevHub` }) };
}

/** A finished run, to the person who asked for it. */
export function outcomeEmail(run: RunSummary, publicUrl: string, to: string): MailMessage {
  const url = runUrl(publicUrl, run.ref);
  const o = outcome(run);
  const verification = run.kind === 'deploy' ? run.result.verification : undefined;
  const lines = [o.text, ...(verification ? verification.checks.map((c) => `${c.ok ? 'passed' : 'failed'}: ${c.detail}`) : [])];
  return { to, subject: o.text.slice(0, 150), text: `${lines.join('\n')}\n\n${url}\n`, html: html(lines, { url, label: `Open ${run.ref} in AutoDevHub` }) };
}
