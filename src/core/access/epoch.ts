/**
 * A counter bumped by every write that changes who someone is or what they may do (identities,
 * role grants, channel links). A principal resolved before the last bump is not used again by
 * this process; other processes let theirs expire (see `PRINCIPAL_TTL_MS` in principal.ts).
 */
let epoch = 0;
const listeners = new Set<() => void>();
let announcing: NodeJS.Timeout | undefined;

export function accessChanged(): void {
  epoch++;
  // The live feeds of every web process re-check their subscriptions; told a moment later, once
  // the write that called this has committed (they check again a second later, too).
  if (listeners.size && !announcing) {
    announcing = setTimeout(() => {
      announcing = undefined;
      for (const listener of listeners) listener();
    }, 100);
    announcing.unref();
  }
}

/** Another process changed access: forget what this one resolved, without announcing it again. */
export function accessChangedElsewhere(): void {
  epoch++;
}

/** Called (at most once per 100 ms) after access writes in this process; returns the unsubscribe. */
export function onAccessChanged(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function accessEpoch(): number {
  return epoch;
}

/**
 * What was resolved about access a moment ago, reused for up to `ttlMs`: an entry is good until its
 * time runs out or any access write happens after it was looked up (`resolvedAt`, an epoch taken
 * before the lookup started, so a write during the lookup is not missed).
 */
export class RecentAccess<V> {
  private readonly entries = new Map<string, { until: number; epoch: number; value: V }>();

  constructor(
    private readonly ttlMs: number,
    private readonly max = 10_000,
  ) {}

  get(key: string): V | undefined {
    const hit = this.entries.get(key);
    return hit && hit.until > Date.now() && hit.epoch === epoch ? hit.value : undefined;
  }

  set(key: string, value: V, resolvedAt: number, until = Infinity): void {
    if (this.entries.size >= this.max) this.entries.clear();
    this.entries.set(key, { until: Math.min(Date.now() + this.ttlMs, until), epoch: resolvedAt, value });
  }

  /** Forgets `key`, or only `value` under it when given (a newer entry stays). */
  delete(key: string, value?: V): void {
    if (value === undefined || this.entries.get(key)?.value === value) this.entries.delete(key);
  }
}
