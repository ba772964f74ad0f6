import { TranslationBundle } from '@jupyterlab/translation';
import React, { useState } from 'react';

import { isValidDeploymentName, MAX_DEPLOYMENT_NAME_LENGTH } from '../utils';

/** How a version is rolled out: on its own, or onto an existing deployment. */
export type Rollout = 'new' | 'canary' | 'shadow';

/** What the deploy form collects. */
export interface DeployFormValue {
  /** NAME/VERSION or NAME@ALIAS. */
  model: string;
  name: string;
  target: string;
  /** 'new' when absent. */
  rollout?: Rollout;
  /** The canary's share of traffic (%), for a canary rollout. */
  canary?: number;
  /** A new deployment in a supervised process of its own. */
  isolated?: boolean;
  /**
   * Serving limits of a new deployment as typed (`timeout_ms`, `max_queue`,
   * `max_rows`); blank or absent: the server's default.
   */
  limits?: Partial<Record<ServingLimit, string>>;
}

/** The serving limits the deploy dialog's advanced section accepts. */
export type ServingLimit = 'timeout_ms' | 'max_queue' | 'max_rows';

/** The serving limits in the order the form shows them. */
export const SERVING_LIMITS: ServingLimit[] = [
  'timeout_ms',
  'max_queue',
  'max_rows'
];

/** The canary share offered first: small enough to be safe. */
export const DEFAULT_CANARY = 10;

export namespace DeployForm {
  export interface IProps {
    modelName: string;
    version: string;
    /** Aliases pointing at this version: each may be deployed by alias. */
    aliases: string[];
    /** The values to start from (a retry keeps what the user typed). */
    initial: DeployFormValue;
    /** Existing deployments a canary or shadow can be added to. */
    deployments?: string[];
    /** An error from the previous attempt, shown under the form. */
    error?: string | null;
    onChange: (value: DeployFormValue) => void;
    trans: TranslationBundle;
  }
}

/**
 * The body of the deploy dialog: which reference to deploy (the version or an
 * alias of it), the deployment name (a DNS label) and the target.
 */
export function DeployForm(props: DeployForm.IProps): React.ReactElement {
  const { trans } = props;
  const [value, setValue] = useState(props.initial);
  const update = (patch: Partial<DeployFormValue>) => {
    const next = { ...value, ...patch };
    setValue(next);
    props.onChange(next);
  };
  const existing = props.deployments ?? [];
  const rollout = value.rollout ?? 'new';
  const onto = rollout !== 'new';
  const nameValid = isValidDeploymentName(value.name);
  const canary = value.canary ?? DEFAULT_CANARY;
  const canaryValid = Number.isInteger(canary) && canary > 0 && canary < 100;
  const limitLabels: Record<ServingLimit, string> = {
    timeout_ms: trans.__('Timeout (ms)'),
    max_queue: trans.__('Max queue'),
    max_rows: trans.__('Max rows')
  };
  const refs = [
    `${props.modelName}/${props.version}`,
    ...props.aliases.map(alias => `${props.modelName}@${alias}`)
  ];
  return (
    <form className="jp-MLOps-form" onSubmit={e => e.preventDefault()}>
      <label className="jp-MLOps-field">
        <span>{trans.__('Model')}</span>
        <select
          className="jp-mod-styled"
          name="model"
          value={value.model}
          onChange={e => update({ model: e.target.value })}
        >
          {refs.map(ref => (
            <option key={ref} value={ref}>
              {ref}
            </option>
          ))}
        </select>
      </label>
      {existing.length > 0 && (
        <fieldset className="jp-MLOps-field jp-MLOps-rollout">
          <legend>{trans.__('Roll out as')}</legend>
          {(
            [
              ['new', trans.__('A new deployment')],
              ['canary', trans.__('A canary of an existing deployment')],
              ['shadow', trans.__('A shadow of an existing deployment')]
            ] as [Rollout, string][]
          ).map(([choice, label]) => (
            <label key={choice} className="jp-MLOps-choice">
              <input
                type="radio"
                name="rollout"
                value={choice}
                checked={rollout === choice}
                onChange={() =>
                  update({
                    rollout: choice,
                    name:
                      choice !== 'new' && !existing.includes(value.name)
                        ? existing[0]
                        : value.name
                  })
                }
              />
              {label}
            </label>
          ))}
        </fieldset>
      )}
      {onto ? (
        <label className="jp-MLOps-field">
          <span>{trans.__('Deployment')}</span>
          <select
            className="jp-mod-styled"
            name="name"
            value={value.name}
            onChange={e => update({ name: e.target.value })}
          >
            {existing.map(name => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </label>
      ) : (
        <>
          <label className="jp-MLOps-field">
            <span>{trans.__('Deployment name')}</span>
            <input
              className="jp-mod-styled"
              name="name"
              value={value.name}
              maxLength={MAX_DEPLOYMENT_NAME_LENGTH}
              aria-invalid={!nameValid}
              aria-describedby="jp-MLOps-name-help"
              spellCheck={false}
              autoComplete="off"
              onChange={e => update({ name: e.target.value })}
            />
          </label>
          <p
            id="jp-MLOps-name-help"
            className={
              nameValid ? 'jp-MLOps-help' : 'jp-MLOps-help jp-MLOps-error'
            }
          >
            {trans.__(
              'Lowercase letters, digits and "-", starting and ending with a letter or digit.'
            )}
          </p>
          <label className="jp-MLOps-choice">
            <input
              type="checkbox"
              name="isolated"
              checked={value.isolated ?? false}
              onChange={e => update({ isolated: e.target.checked })}
            />
            {trans.__('Isolated process (a crash affects only this model)')}
          </label>
          <details className="jp-MLOps-advanced">
            <summary>{trans.__('Serving limits (optional)')}</summary>
            {SERVING_LIMITS.map(limit => (
              <label key={limit} className="jp-MLOps-field">
                <span>{limitLabels[limit]}</span>
                <input
                  className="jp-mod-styled"
                  name={limit}
                  inputMode="numeric"
                  placeholder={trans.__('default')}
                  value={value.limits?.[limit] ?? ''}
                  onChange={e =>
                    update({
                      limits: { ...value.limits, [limit]: e.target.value }
                    })
                  }
                />
              </label>
            ))}
          </details>
        </>
      )}
      {rollout === 'canary' && (
        <label className="jp-MLOps-field">
          <span>{trans.__('Canary traffic (%)')}</span>
          <input
            className="jp-mod-styled"
            type="number"
            name="canary"
            min={1}
            max={99}
            step={1}
            value={canary}
            aria-invalid={!canaryValid}
            onChange={e => update({ canary: Number(e.target.value) })}
          />
        </label>
      )}
      {rollout === 'shadow' && (
        <p className="jp-MLOps-help">
          {trans.__(
            'The shadow gets a copy of every request; its answers are recorded, never returned.'
          )}
        </p>
      )}
      <label className="jp-MLOps-field">
        <span>{trans.__('Target')}</span>
        <input
          className="jp-mod-styled"
          name="target"
          value={value.target}
          disabled={onto}
          spellCheck={false}
          onChange={e => update({ target: e.target.value })}
        />
      </label>
      {props.error && (
        <p className="jp-MLOps-message jp-MLOps-error" role="alert">
          {props.error}
        </p>
      )}
    </form>
  );
}
