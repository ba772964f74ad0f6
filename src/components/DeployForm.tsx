import { TranslationBundle } from '@jupyterlab/translation';
import React, { useState } from 'react';
import { DeploymentSpec } from '../api';
import { isValidDeploymentName, MAX_DEPLOYMENT_NAME_LENGTH } from '../utils';

export namespace DeployForm {
  export interface IProps {
    modelName: string;
    version: string;
    /** Aliases pointing at this version: each may be deployed by alias. */
    aliases: string[];
    /** The values to start from (a retry keeps what the user typed). */
    initial: Required<DeploymentSpec>;
    /** An error from the previous attempt, shown under the form. */
    error?: string | null;
    onChange: (value: Required<DeploymentSpec>) => void;
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
  const update = (patch: Partial<DeploymentSpec>) => {
    const next = { ...value, ...patch };
    setValue(next);
    props.onChange(next);
  };
  const nameValid = isValidDeploymentName(value.name);
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
        className={nameValid ? 'jp-MLOps-help' : 'jp-MLOps-help jp-MLOps-error'}
      >
        {trans.__(
          'Lowercase letters, digits and "-", starting and ending with a letter or digit.'
        )}
      </p>
      <label className="jp-MLOps-field">
        <span>{trans.__('Target')}</span>
        <input
          className="jp-mod-styled"
          name="target"
          value={value.target}
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
