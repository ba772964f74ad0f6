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
 * A deployment's variants with an editable traffic split: one number per
 * serving variant (shadows get mirrored traffic, not a share); with two, a
 * slider moves both. Apply is enabled when the split changed and sums to 100.
 */
export function TrafficEditor(props: TrafficEditor.IProps): React.ReactElement {
  const { trans, variants } = props;
  const current = weightsOf(variants);
  const key = JSON.stringify(current);
  const [weights, setWeights] = useState(current);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // A change from the server (another user, a promote) resets the editor.
  useEffect(() => setWeights(current), [key]);

  const serving = variants.filter(v => v.role !== 'shadow');
  const total = Object.values(weights).reduce((a, b) => a + b, 0);
  const changed = JSON.stringify(weights) !== key;
  const valid =
    total === 100 &&
    Object.values(weights).every(w => Number.isInteger(w) && w >= 0);
  const pair = serving.length === 2 ? serving : null;

  const apply = async () => {
    setBusy(true);
    setError(null);
    try {
      await props.onApply(weights);
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
                  onChange={e =>
                    setWeights({ ...weights, [v.name]: Number(e.target.value) })
                  }
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
          >
            {trans.__('Apply split')}
          </button>
        )}
      </div>
      {error && (
        <p className="jp-MLOps-message jp-MLOps-error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}
