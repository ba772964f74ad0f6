import { TranslationBundle } from '@jupyterlab/translation';
import { copyIcon, stopIcon } from '@jupyterlab/ui-components';
import React from 'react';
import { Deployment, Variant } from '../api';
import { failedStep, isInProgress } from '../utils';
import { DeployProgress } from './DeployProgress';
import { StateBadge } from './StateBadge';

export namespace DeploymentList {
  export interface IProps {
    deployments: Deployment[];
    /** Asked to stop a deployment (the caller confirms first). */
    onStop: (deployment: Deployment) => void;
    /** Copy an endpoint URL to the clipboard. */
    onCopyUrl: (url: string) => void;
    trans: TranslationBundle;
  }
}

/**
 * Deployments with their state, progress while they start, the failure
 * message, the endpoint URL and a stop button.
 */
export function DeploymentList(
  props: DeploymentList.IProps
): React.ReactElement {
  return (
    <ul className="jp-MLOps-list" aria-label={props.trans.__('Deployments')}>
      {props.deployments.map(deployment => (
        <DeploymentItem
          key={deployment.name}
          {...props}
          deployment={deployment}
        />
      ))}
    </ul>
  );
}

function DeploymentItem(
  props: Omit<DeploymentList.IProps, 'deployments'> & {
    deployment: Deployment;
  }
): React.ReactElement {
  const { deployment: d, trans } = props;
  return (
    <li
      className={`jp-MLOps-deployment jp-MLOps-state-${d.state}`}
      data-deployment-name={d.name}
      data-state={d.state}
    >
      <div className="jp-MLOps-row">
        <span className="jp-MLOps-name" title={d.name}>
          {d.name}
        </span>
        <StateBadge state={d.state} trans={trans} />
        <button
          type="button"
          className="jp-MLOps-icon-button"
          aria-label={trans.__('Stop deployment %1', d.name)}
          title={trans.__('Stop deployment %1', d.name)}
          onClick={() => props.onStop(d)}
        >
          <stopIcon.react tag="span" elementSize="normal" />
        </button>
      </div>
      <div className="jp-MLOps-meta">
        <span title={trans.__('Model version')}>
          {d.model_name}/{d.model_version}
        </span>
        {d.model_ref !== `${d.model_name}/${d.model_version}` && (
          <span title={trans.__('Requested as')}> ({d.model_ref})</span>
        )}
        <span title={trans.__('Target')}> · {d.target}</span>
      </div>
      {d.variants.length > 1 && (
        <Variants variants={d.variants} trans={trans} />
      )}
      {isInProgress(d.state) && <DeployProgress deployment={d} trans={trans} />}
      {d.state === 'failed' && (
        <p className="jp-MLOps-message jp-MLOps-error" role="alert">
          {d.message ||
            failedStep(d)?.message ||
            trans.__('The deployment failed without a message.')}
        </p>
      )}
      {d.url && (
        <Endpoint
          url={d.url}
          name={d.name}
          onCopy={props.onCopyUrl}
          trans={trans}
        />
      )}
    </li>
  );
}

function Variants(props: {
  variants: Variant[];
  trans: TranslationBundle;
}): React.ReactElement {
  return (
    <ul
      className="jp-MLOps-variants"
      aria-label={props.trans.__('Traffic split')}
    >
      {props.variants.map(v => (
        <li key={v.name} className="jp-MLOps-variant" data-role={v.role}>
          {v.role === 'shadow'
            ? props.trans.__('%1: v%2 (shadow)', v.name, v.model_version)
            : props.trans.__('%1: v%2, %3%', v.name, v.model_version, v.weight)}
        </li>
      ))}
    </ul>
  );
}

function Endpoint(props: {
  url: string;
  name: string;
  onCopy: (url: string) => void;
  trans: TranslationBundle;
}): React.ReactElement {
  const { trans } = props;
  return (
    <div className="jp-MLOps-endpoint">
      <code className="jp-MLOps-url" title={props.url}>
        {props.url}
      </code>
      <button
        type="button"
        className="jp-MLOps-icon-button"
        aria-label={trans.__('Copy the endpoint URL of %1', props.name)}
        title={trans.__('Copy the endpoint URL')}
        onClick={() => props.onCopy(props.url)}
      >
        <copyIcon.react tag="span" elementSize="normal" />
      </button>
    </div>
  );
}
