/**
 * Slack's documented limits as a stand-in enforces them: chat.postMessage about one message per
 * second per channel with short bursts (here: up to `postBurst` at once), chat.update Tier 3
 * (50 per minute per workspace, sporadic bursts: up to `updateBurst`). Past a limit the answer is
 * 429 with Retry-After (seconds), as Slack's; a call made while told to wait counts as ignoring it.
 */
export interface SlackLimitOptions {
  postPerSecond?: number;
  postBurst?: number;
  updatesPerMinute?: number;
  updateBurst?: number;
}

interface Bucket {
  tokens: number;
  at: number;
  blockedUntil: number;
}

export class SlackLimits {
  readonly postRate: number;
  readonly postBurst: number;
  readonly updateRate: number;
  readonly updateBurst: number;
  /** 429s answered, by method. */
  readonly limited = { 'chat.postMessage': 0, 'chat.update': 0 } as Record<string, number>;
  /** Calls that came while the stand-in had told the caller to wait (Retry-After not honoured). */
  ignoredRetryAfter = 0;
  private readonly buckets = new Map<string, Bucket>();
  private readonly forced = new Map<string, number>();

  constructor(opts: SlackLimitOptions = {}) {
    this.postRate = (opts.postPerSecond ?? 1) / 1000;
    this.postBurst = opts.postBurst ?? 4;
    this.updateRate = (opts.updatesPerMinute ?? 50) / 60_000;
    this.updateBurst = opts.updateBurst ?? 25;
  }

  /** The next postMessage into `channel` is answered 429 with this Retry-After. */
  limitNext(channel: string, retryAfterSeconds: number): void {
    this.forced.set(channel, retryAfterSeconds);
  }

  /** 0: the call goes through; otherwise the Retry-After (s) to answer with a 429. */
  check(method: string, channel: string, now = Date.now()): number {
    const key = method === 'chat.postMessage' ? `post:${channel}` : method === 'chat.update' ? 'update' : undefined;
    if (!key) return 0;
    const rate = key === 'update' ? this.updateRate : this.postRate;
    const burst = key === 'update' ? this.updateBurst : this.postBurst;
    const b = this.buckets.get(key) ?? { tokens: burst, at: now, blockedUntil: 0 };
    this.buckets.set(key, b);
    if (now < b.blockedUntil) this.ignoredRetryAfter++;
    const forced = key.startsWith('post:') ? this.forced.get(channel) : undefined;
    if (forced !== undefined) {
      this.forced.delete(channel);
      b.blockedUntil = now + forced * 1000;
      this.limited[method]!++;
      return forced;
    }
    b.tokens = Math.min(burst, b.tokens + (now - b.at) * rate);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    const retryAfter = Math.max(1, Math.ceil((1 - b.tokens) / rate / 1000));
    b.blockedUntil = Math.max(b.blockedUntil, now + retryAfter * 1000);
    this.limited[method]!++;
    return retryAfter;
  }

  get total429(): number {
    return Object.values(this.limited).reduce((a, b) => a + b, 0);
  }
}
