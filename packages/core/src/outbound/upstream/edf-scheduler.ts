interface Entry<T> {
  deadline: number;
  seq: number;
  item: T;
}

/**
 * Earliest-deadline-first scheduling, Envoy's weighted pick (envoy
 * source/common/upstream/edf_scheduler.h): each item is due `1/weight` after the last time
 * it was picked; the earliest due item wins, ties by insertion order. Weights are read
 * again each time an item is re-queued, which is how LEAST_REQUEST folds active requests
 * into the weight.
 */
export class EdfScheduler<T> {
  readonly #heap: Entry<T>[] = [];
  #now = 0;
  #seq = 0;

  /** `skipFirst` picks are made up front so that schedules do not all start on item 0. */
  constructor(items: readonly T[], weightOf: (item: T) => number, skipFirst: number) {
    for (const item of items) this.#push(1 / weightOf(item), item);
    for (let i = 0; i < skipFirst; i++) this.pick(weightOf, null);
  }

  /**
   * The next item not rejected by `skip`. Skipped items keep their place (their turn is
   * not used up), so a retry that avoids a previous host does not shift the schedule.
   */
  pick(weightOf: (item: T) => number, skip: ((item: T) => boolean) | null): T | null {
    let held: Entry<T>[] | null = null;
    let chosen: Entry<T> | undefined;
    for (;;) {
      chosen = this.#pop();
      if (chosen === undefined || skip === null || !skip(chosen.item)) break;
      (held ??= []).push(chosen);
    }
    if (held !== null) for (const e of held) this.#insert(e);
    if (chosen === undefined) return null;
    this.#now = chosen.deadline;
    this.#push(this.#now + 1 / weightOf(chosen.item), chosen.item);
    return chosen.item;
  }

  #push(deadline: number, item: T): void {
    this.#insert({ deadline, seq: this.#seq++, item });
  }

  #less(a: Entry<T>, b: Entry<T>): boolean {
    return a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);
  }

  #insert(e: Entry<T>): void {
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p]!;
      if (!this.#less(e, parent)) break;
      h[i] = parent;
      i = p;
    }
    h[i] = e;
  }

  #pop(): Entry<T> | undefined {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && this.#less(h[r]!, h[l]!) ? r : l;
      if (!this.#less(h[c]!, last)) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
    return top;
  }
}
