import type { BatchDecisionResult, ComplianceDecisionInput, DecisionResult } from './store.js';

/** The most decisions one group writes (as many as one batch request may hold). */
export const MAX_DECISION_GROUP = 1000;

export interface DecisionGroupsOptions {
  /** Writes a group in one transaction, as `Store.recordDecisions` does: one result per decision, in order. */
  writeGroup(list: readonly ComplianceDecisionInput[]): Promise<BatchDecisionResult[]>;
  /**
   * Writes one decision alone, when fewer than `alone` are being written that way and no group is:
   * a lone decision's cheapest path (PostgreSQL: one statement). Without it every decision is grouped.
   */
  writeOne?(d: ComplianceDecisionInput): Promise<DecisionResult>;
  /** How many decisions may be written alone at once (default 0: every decision is grouped). */
  alone?: number;
}

interface Waiting {
  d: ComplianceDecisionInput;
  resolve: (r: DecisionResult) => void;
  reject: (e: unknown) => void;
}

/**
 * Group commit for single decisions (`Store.recordDecision`). Decisions that arrive while the store is
 * busy are written together, in arrival order, by the batch path, each with its own result: a commit
 * and a statement's fixed costs are most of a decision's cost, and a group pays them once. The first
 * group starts one turn of the event loop after its first decision arrives (so the requests read in
 * the same turn join it); decisions that arrive while a group is being written wait for the next one.
 * A database error fails the whole group; a decision the batch refuses (its event could not be built)
 * rejects with that error alone.
 */
export class DecisionGroups {
  readonly #options: DecisionGroupsOptions;
  readonly #waiting: Waiting[] = [];
  #flushing = false;
  #alone = 0;

  constructor(options: DecisionGroupsOptions) {
    this.#options = options;
  }

  async record(d: ComplianceDecisionInput): Promise<DecisionResult> {
    const { writeOne, alone = 0 } = this.#options;
    // Alone only while no group waits or is being written: a later decision must not overtake an
    // earlier one that went to a group.
    if (writeOne && this.#alone < alone && this.#waiting.length === 0 && !this.#flushing) {
      this.#alone++;
      try {
        return await writeOne(d);
      } finally {
        this.#alone--;
      }
    }
    return new Promise<DecisionResult>((resolve, reject) => {
      this.#waiting.push({ d, resolve, reject });
      if (!this.#flushing && this.#waiting.length === 1) setImmediate(() => void this.#flush());
    });
  }

  async #flush(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      while (this.#waiting.length > 0) {
        const group = this.#waiting.splice(0, MAX_DECISION_GROUP);
        let results: BatchDecisionResult[];
        try {
          results = await this.#options.writeGroup(group.map((g) => g.d));
        } catch (error) {
          for (const g of group) g.reject(error);
          continue;
        }
        for (const [i, g] of group.entries()) {
          const r = results[i];
          if (r === undefined) g.reject(new Error('a grouped decision got no result'));
          else if (r.outcome === 'refused')
            g.reject(r.error); // nothing was written for it
          else g.resolve(r);
        }
      }
    } finally {
      this.#flushing = false;
    }
  }
}
