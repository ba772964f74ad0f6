import { useCallback, useState } from 'react';

/** What a form needs to run one server call at a time and show its refusal. */
export interface IAction {
  /** True while a call runs: the form's controls are disabled. */
  busy: boolean;
  /** The last refusal's message, shown in place; null when none. */
  error: string | null;
  /** Show a message without calling the server (a check done in the form). */
  setError: (message: string | null) => void;
  /**
   * Run a call: marks the form busy, clears the last error, and keeps the
   * refusal's message when the call fails (it never rejects).
   */
  run: (action: () => Promise<void>) => Promise<void>;
}

/**
 * The busy flag and in-place error of a form that submits to the server, so
 * each form does not write its own try/catch/finally.
 */
export function useAction(): IAction {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = useCallback(async (action: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (reason) {
      setError(reason instanceof Error ? reason.message : String(reason));
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, setError, run };
}
