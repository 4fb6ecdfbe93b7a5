import { z } from 'zod';

/**
 * Discord interactions (API v10) as they arrive: PING, APPLICATION_COMMAND with the
 * /autodevhub subcommands, and MESSAGE_COMPONENT for button clicks.
 */
export const InteractionType = { Ping: 1, ApplicationCommand: 2, MessageComponent: 3 } as const;
export const ResponseType = { Pong: 1, ChannelMessage: 4, DeferredChannelMessage: 5, DeferredUpdateMessage: 6 } as const;
export const EPHEMERAL = 1 << 6;

interface CommandOption {
  name: string;
  type: number;
  value?: string | number | boolean;
  options?: CommandOption[];
}

export interface Interaction {
  id: string;
  type: number;
  application_id: string;
  token: string;
  channel_id?: string;
  guild_id?: string;
  member?: { user: { id: string; username?: string } };
  user?: { id: string; username?: string };
  data?: { name?: string; options?: CommandOption[]; custom_id?: string; component_type?: number };
  message?: { id: string; channel_id: string };
}

export class DiscordBodyError extends Error {
  override name = 'DiscordBodyError';
}

const snowflake = z.string().regex(/^\d{1,25}$/);
const userSchema = z.looseObject({ id: snowflake, username: z.string().optional() });
const optionSchema: z.ZodType<CommandOption> = z.lazy(() =>
  z.looseObject({
    name: z.string().max(100),
    type: z.number().int(),
    value: z.union([z.string().max(6000), z.number(), z.boolean()]).optional(),
    options: z.array(optionSchema).max(25).optional(),
  }),
) as z.ZodType<CommandOption>;
const interactionSchema = z.looseObject({
  id: snowflake,
  type: z.number().int(),
  application_id: snowflake,
  token: z.string().max(500).optional(),
  channel_id: snowflake.optional(),
  guild_id: snowflake.optional(),
  member: z.looseObject({ user: userSchema }).optional(),
  user: userSchema.optional(),
  data: z
    .looseObject({
      name: z.string().optional(),
      options: z.array(optionSchema).max(25).optional(),
      custom_id: z.string().max(100).optional(),
      component_type: z.number().int().optional(),
    })
    .optional(),
  message: z.looseObject({ id: snowflake, channel_id: snowflake }).optional(),
}).refine((i) => i.type === 1 || Boolean(i.token), { message: 'an interaction other than PING carries a token', path: ['token'] });

/** A signed body that is not an interaction of the documented shape is refused (400), never half-read. */
export function parseInteraction(rawBody: string): Interaction {
  let body: unknown;
  try {
    body = JSON.parse(rawBody);
  } catch {
    throw new DiscordBodyError('body is not valid JSON');
  }
  const parsed = interactionSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new DiscordBodyError(`not an interaction${issue ? ` (${issue.path.join('.') || 'body'}: ${issue.message})` : ''}`);
  }
  return parsed.data as Interaction;
}

/** The clicking or typing user: `member.user` in a server, `user` in a DM. */
export function interactionUser(i: Interaction): string | undefined {
  return i.member?.user.id ?? i.user?.id;
}

/**
 * `/autodevhub deploy environment:production ref:v2` → "deploy production v2": options are put
 * in the order the text grammar reads them (`order`), so one grammar parses every surface.
 */
export function commandText(i: Interaction, order: Record<string, string[]>): string {
  const sub = i.data?.options?.[0];
  if (!sub) return 'help';
  const byName = new Map((sub.options ?? []).map((o) => [o.name, String(o.value ?? '').trim()]));
  const names = order[sub.name] ?? [...byName.keys()];
  return [sub.name, ...names.map((n) => byName.get(n) ?? '').filter(Boolean)].join(' ');
}
