import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';

/** An application key pair like Discord's: the test signs, the server verifies with the public half. */
export function discordKeys() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  return {
    publicKeyHex: raw.toString('hex'),
    sign(timestamp: string, body: string): string {
      return sign(null, Buffer.from(timestamp + body), privateKey).toString('hex');
    },
  };
}

export type Keys = ReturnType<typeof discordKeys>;

let counter = 0;
export function snowflake(): string {
  return String(1_100_000_000_000_000_000n + BigInt(++counter) * 1000n + BigInt(randomBytes(1)[0]!));
}

/** An APPLICATION_COMMAND interaction for /autodevhub <sub> with options, as Discord sends it. */
export function commandInteraction(appId: string, sub: string, options: Record<string, string>, user: string, channel = '112233') {
  return {
    id: snowflake(), application_id: appId, type: 2, token: `itoken-${randomBytes(8).toString('hex')}`, version: 1,
    guild_id: '445566', channel_id: channel, locale: 'en-US', app_permissions: '0',
    member: { user: { id: user, username: `user${user}`, discriminator: '0', global_name: null, avatar: null }, roles: [], permissions: '0', joined_at: '2026-01-01T00:00:00.000Z', deaf: false, mute: false },
    data: { id: '1', name: 'autodevhub', type: 1, options: [{ type: 1, name: sub, options: Object.entries(options).map(([name, value]) => ({ type: 3, name, value })) }] },
  };
}

/** A MESSAGE_COMPONENT interaction (a button click). */
export function componentInteraction(appId: string, customId: string, user: string, messageId = '1', channel = '112233') {
  return {
    id: snowflake(), application_id: appId, type: 3, token: `ctoken-${randomBytes(8).toString('hex')}`, version: 1,
    guild_id: '445566', channel_id: channel, locale: 'en-US',
    member: { user: { id: user, username: `user${user}`, discriminator: '0' }, roles: [], permissions: '0' },
    message: { id: messageId, channel_id: channel, content: '', embeds: [], components: [] },
    data: { custom_id: customId, component_type: 2 },
  };
}

export async function postInteraction(baseUrl: string, keys: Keys, interaction: unknown, opts: { badSignature?: boolean } = {}) {
  const body = JSON.stringify(interaction);
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = opts.badSignature ? keys.sign(timestamp, `${body} `) : keys.sign(timestamp, body);
  const res = await fetch(`${baseUrl}/discord/interactions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-signature-ed25519': signature, 'x-signature-timestamp': timestamp },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}
