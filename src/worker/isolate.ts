// Finding the bad events of a batch the store refuses, so that one event the store cannot keep
// never costs the others: the batch is split in halves until each failing part is one event, and
// every other part is applied. Applying is idempotent per event id, so a part applied again (on a
// retry of the job) still counts once.
//
// A failing event is "bad" (set aside for good) only when the store says its error is about the
// data (PostgreSQL: a NUL byte, a check constraint; see AnalyticsStore.isDataError), and it fails
// again when tried once more. Anything else means the store itself is failing (down, a table
// missing, no permission): then the search stops and the job is retried with backoff, as for any
// outage, so an outage never gets events set aside.

export interface Applied {
  applied: number;
  duplicates: number;
}

export interface Isolated<E> extends Applied {
  /** Events the store refused on their own, for a reason in the data: to be set aside. */
  bad: { event: E; error: Error }[];
  /** Set when the store failed for another reason: the job must be retried. */
  failure?: Error;
}

export interface IsolateOptions<E> {
  apply: (events: E[]) => Promise<Applied>;
  /** Resolves when the store answers, rejects when it does not. */
  ping: () => Promise<void>;
  /** True when the store refused the data itself (retrying the same event fails the same way). */
  isDataError: (err: unknown) => boolean;
}

export async function applyIsolatingBadEvents<E>(events: E[], o: IsolateOptions<E>): Promise<Isolated<E>> {
  const out: Isolated<E> = { applied: 0, duplicates: 0, bad: [] };
  const tryApply = async (part: E[]): Promise<Error | undefined> => {
    try {
      const r = await o.apply(part);
      out.applied += r.applied;
      out.duplicates += r.duplicates;
      return undefined;
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  };
  const storeAnswers = () => o.ping().then(() => true, () => false);

  // An explicit stack, halves in order: memory stays proportional to log2(events).
  const stack: E[][] = events.length > 0 ? [events] : [];
  while (stack.length > 0) {
    const part = stack.pop()!;
    const error = await tryApply(part);
    if (!error) continue;
    if (!(await storeAnswers())) return { ...out, failure: error };
    if (part.length > 1) {
      const mid = Math.ceil(part.length / 2);
      stack.push(part.slice(mid), part.slice(0, mid));
      continue;
    }
    // One event failed alone. Once more, so that a passing hiccup is not taken for a bad event.
    const again = await tryApply(part);
    if (!again) continue;
    if (!o.isDataError(again)) return { ...out, failure: again };
    out.bad.push({ event: part[0]!, error: again });
  }
  return out;
}
