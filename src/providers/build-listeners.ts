/**
 * Who wants to hear about a build: live /logs streams subscribe by the build's correlation id,
 * and whatever changes the build (a webhook, a poll, a cancel) wakes them so they look again
 * at once instead of at their next interval. Each provider's tracker is one of these.
 */
export class BuildListeners {
  private readonly listeners = new Map<string, Set<() => void>>();

  /** Calls `listener` whenever the build is woken; returns the unsubscribe. */
  subscribe(correlationId: string, listener: () => void): () => void {
    const set = this.listeners.get(correlationId) ?? new Set();
    set.add(listener);
    this.listeners.set(correlationId, set);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(correlationId);
    };
  }

  /** Tells the build's listeners to look again (after anything was applied to it). */
  wake(correlationId: string): void {
    for (const listener of this.listeners.get(correlationId) ?? []) listener();
  }
}
