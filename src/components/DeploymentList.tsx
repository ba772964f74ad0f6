import { TranslationBundle } from '@jupyterlab/translation';
import {
  addIcon,
  copyIcon,
  historyIcon,
  stopIcon
} from '@jupyterlab/ui-components';
import React from 'react';
import { Deployment, Health, Variant } from '../api';
import { TrafficEditor } from './TrafficEditor';
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
    /** Add a notebook cell that calls the deployment (absent: no button). */
    onInsertCode?: (deployment: Deployment) => void;
    /** Apply a traffic split (absent: the split is shown read-only). */
    onSetTraffic?: (
      deployment: Deployment,
      weights: Record<string, number>
    ) => Promise<void>;
    /** Promote the canary (the caller confirms first). */
    onPromote?: (deployment: Deployment) => void;
    /** Roll back the last rollout step (the caller confirms first). */
    onRollback?: (deployment: Deployment) => void;
    /** Open the deployment's monitoring and history. */
    onMonitor?: (deployment: Deployment) => void;
    /** A deployment's health, when the server reports it. */
    health?: (name: string) => Health | undefined;
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
  const health = props.health?.(d.name);
  const staged = d.variants.some(v => v.role !== 'primary');
  return (
    <li
      className={`jp-MLOps-deployment jp-MLOps-state-${d.state}`}
      data-deployment-name={d.name}
      data-state={d.state}
    >
      <div className="jp-MLOps-row">
        {health && <HealthDot health={health} trans={trans} />}
        <span className="jp-MLOps-name" title={d.name}>
          {d.name}
        </span>
        <StateBadge state={d.state} trans={trans} />
        {props.onMonitor && (
          <button
            type="button"
            className="jp-MLOps-icon-button"
            aria-label={trans.__('Monitoring and history of %1', d.name)}
            title={trans.__('Monitoring and history')}
            onClick={() => props.onMonitor?.(d)}
          >
            <historyIcon.react tag="span" elementSize="normal" />
          </button>
        )}
        {props.onInsertCode && (
          <button
            type="button"
            className="jp-MLOps-icon-button"
            aria-label={trans.__(
              'Insert code calling %1 into the notebook',
              d.name
            )}
            title={trans.__(
              'Insert code calling this endpoint into the notebook'
            )}
            onClick={() => props.onInsertCode?.(d)}
          >
            <addIcon.react tag="span" elementSize="normal" />
          </button>
        )}
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
      {d.variants.length > 1 &&
        (props.onSetTraffic ? (
          <TrafficEditor
            deploymentName={d.name}
            variants={d.variants}
            onApply={weights => props.onSetTraffic!(d, weights)}
            trans={trans}
          />
        ) : (
          <Variants variants={d.variants} trans={trans} />
        ))}
      {(props.onPromote || props.onRollback) && d.state !== 'failed' && (
        <div className="jp-MLOps-row jp-MLOps-actions">
          {props.onPromote && staged && (
            <button
              type="button"
              className="jp-Button jp-mod-styled jp-mod-accept jp-MLOps-small"
              aria-label={trans.__('Promote the canary of %1', d.name)}
              onClick={() => props.onPromote?.(d)}
            >
              {trans.__('Promote')}
            </button>
          )}
          {props.onRollback && (
            <button
              type="button"
              className="jp-Button jp-mod-styled jp-mod-reject jp-MLOps-small"
              aria-label={trans.__('Roll back %1', d.name)}
              onClick={() => props.onRollback?.(d)}
            >
              {trans.__('Roll back')}
            </button>
          )}
        </div>
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

/** The deployment's health as a coloured dot with its score. */
export function HealthDot(props: {
  health: Health;
  trans: TranslationBundle;
}): React.ReactElement {
  const { health, trans } = props;
  const label =
    health.score === null || health.score === undefined
      ? trans.__('Health: %1', String(health.colour))
      : trans.__(
          'Health %1 (%2)',
          Math.round(health.score),
          String(health.colour)
        );
  return (
    <span
      className={`jp-MLOps-health jp-MLOps-health-${health.colour}`}
      data-health={health.colour}
      role="img"
      aria-label={label}
      title={label}
    />
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
