/**
 * The baseline: a bare Bolt app on Bolt's own HTTPReceiver answering the same slash command with
 * an empty ack. It verifies the signature like AutoDevHub does, and does nothing else.
 */
import { App, LogLevel } from '@slack/bolt';

const port = Number(process.env.PORT ?? 3999);
const app = new App({
  signingSecret: process.env.SLACK_SIGNING_SECRET!,
  // No network at start or per event: authorisation is local.
  authorize: async () => ({ botToken: 'xoxb-bench', botId: 'B0BENCH', botUserId: 'U0BENCH' }),
  logLevel: LogLevel.ERROR,
});
app.command('/autodevhub', async ({ ack }) => {
  await ack();
});
await app.start(port);
process.stdout.write(`ready ${port}\n`);
