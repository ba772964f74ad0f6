import { TranslationBundle } from '@jupyterlab/translation';
import React, { useEffect, useState } from 'react';
import { Variant } from '../api';

export namespace TrafficEditor {
  export interface IProps {
    deploymentName: string;
    variants: Variant[];
    /** Apply new weights by variant name; rejects with the server's message. */
    onApply: (weights: Record<string, number>) => Promise<void>;
    trans: TranslationBundle;
  }
}

/** Weights by variant name of the variants that take traffic (not shadows). */
export function weightsOf(variants: Variant[]): Record<string, number> {
  return Object.fromEntries(
    variants.filter(v => v.role !== 'shadow').map(v => [v.name, v.weight])
  );
}

/**
 * New weights after one share was typed: another serving variant follows so
 * the split stays at 100% (the primary follows a canary; the first canary
 * follows the primary). When no single share can absorb the difference the
 * total is left off 100 and Apply says why.
 */
export function rebalance(
  serving: Variant[],
  weights: Record<string, number>,
  edited: string,
  value: number
): Record<string, number> {
  const next = { ...weights, [edited]: value };
  const editedVariant = serving.find(v => v.name === edited);
  const partner =
    editedVariant?.role === 'primary'
      ? serving.find(v => v.name !== edited)
      : (serving.find(v => v.role === 'primary' && v.name !== edited) ??
        serving.find(v => v.name !== edited));
  if (!partner || !Number.isFinite(value)) {
    return next;
  }
  const others = serving
    .filter(v => v.name !== edited && v.name !== partner.name)
    .reduce((sum, v) => sum + (next[v.name] ?? 0), 0);
  const rest = 100 - value - others;
  if (rest >= 0 && rest <= 100) {
    next[partner.name] = rest;
  }
  return next;
}

/**
 * Why a split cannot be applied, or null when it can.
 */
export function splitProblem(
  weights: Record<string, number>,
  trans: TranslationBundle
): string | null {
  const values = Object.values(weights);
  if (!values.every(w => Number.isInteger(w) && w >= 0 && w <= 100)) {
    return trans.__('Each share must be a whole number from 0 to 100.');
  }
  const total = values.reduce((a, b) => a + b, 0);
  if (total !== 100) {
    return trans.__('The shares must add up to 100% (now %1%).', total);
  }
  return null;
}

/**
 * A deployment's variants with an editable traffic split: one number per
 * serving variant (shadows get mirrored traffic, not a share); with two, a
 * slider moves both. Typing a share moves another so the total stays 100%;
 * Apply says why it is disabled, and confirms when the split is live.
 */
export function TrafficEditor(props: TrafficEditor.IProps): React.ReactElement {
  const { trans, variants } = props;
  const current = weightsOf(variants);
  const key = JSON.stringify(current);
  const [weights, setWeights] = useState(current);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [applied, setApplied] = useState<string | null>(null);
  // A change from the server (another user, a promote) resets the editor.
  useEffect(() => setWeights(current), [key]);

  const serving = variants.filter(v => v.role !== 'shadow');
  const total = Object.values(weights).reduce((a, b) => a + b, 0);
  const changed = JSON.stringify(weights) !== key;
  const problem = splitProblem(weights, trans);
  const valid = problem === null;
  const pair = serving.length === 2 ? serving : null;

  const apply = async () => {
    setBusy(true);
    setError(null);
    setApplied(null);
    try {
      await props.onApply(weights);
      setApplied(
        trans.__(
          'Applied: %1',
          serving.map(v => `${v.name} ${weights[v.name] ?? 0}%`).join(' · ')
        )
      );
    } catch (reason) {
      setError(reason instanceof Error ? reason.message : String(reason));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      className="jp-MLOps-traffic"
      aria-label={trans.__('Traffic split of %1', props.deploymentName)}
      onSubmit={e => {
        e.preventDefault();
        if (changed && valid && !busy) {
          void apply();
        }
      }}
    >
      <ul className="jp-MLOps-variants">
        {variants.map(v => (
          <li key={v.name} className="jp-MLOps-variant" data-role={v.role}>
            <span className="jp-MLOps-variant-name">
              {trans.__('%1: v%2', v.name, v.model_version)}
            </span>
            {v.role === 'shadow' ? (
              <span className="jp-MLOps-meta">{trans.__('shadow')}</span>
            ) : (
              <label className="jp-MLOps-inline-label">
                <input
                  className="jp-mod-styled jp-MLOps-weight"
                  type="number"
                  min={0}
                  max={100}
                  step={1}
                  value={weights[v.name] ?? 0}
                  disabled={busy}
                  aria-label={trans.__('Traffic share of %1 (%)', v.name)}
                  onChange={e => {
                    setApplied(null);
                    setWeights(
                      rebalance(
                        serving,
                        weights,
                        v.name,
                        Number(e.target.value)
                      )
                    );
                  }}
                />
                %
              </label>
            )}
          </li>
        ))}
      </ul>
      {pair && (
        <input
          type="range"
          className="jp-MLOps-slider"
          min={0}
          max={100}
          step={5}
          value={weights[pair[1].name] ?? 0}
          disabled={busy}
          aria-label={trans.__('Share of %1 (%)', pair[1].name)}
          onChange={e => {
            const share = Number(e.target.value);
            setApplied(null);
            setWeights({ [pair[0].name]: 100 - share, [pair[1].name]: share });
          }}
        />
      )}
      <div className="jp-MLOps-row">
        <span
          className={valid ? 'jp-MLOps-help' : 'jp-MLOps-help jp-MLOps-error'}
        >
          {trans.__('Total %1%', total)}
        </span>
        {changed && (
          <button
            type="submit"
            className="jp-Button jp-mod-styled jp-mod-accept jp-MLOps-small"
            disabled={!valid || busy}
            title={problem ?? trans.__('Send this split to the deployment')}
          >
            {trans.__('Apply split')}
          </button>
        )}
      </div>
      {changed && problem && (
        <p className="jp-MLOps-help jp-MLOps-error" data-reason="split">
          {problem}
        </p>
      )}
      {applied && (
        <p className="jp-MLOps-help jp-MLOps-success" role="status">
          {applied}
        </p>
      )}
      {error && (
        <p className="jp-MLOps-message jp-MLOps-error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}
