import { TranslationBundle } from '@jupyterlab/translation';
import {
  codeIcon,
  copyIcon,
  historyIcon,
  stopIcon
} from '@jupyterlab/ui-components';
import React from 'react';
import {
  Deployment,
  DeploymentSettings,
  Health,
  SettingsChange,
  Variant
} from '../api';
import { SettingsEditor } from './SettingsEditor';
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
    /**
     * Why Roll back cannot work on a deployment (null when it can, undefined
     * when not known yet: the button stays enabled and the server decides).
     */
    rollbackBlocked?: (deployment: Deployment) => string | null | undefined;
    /** Read a deployment's settings (absent: no Settings editor). */
    onLoadSettings?: (deployment: Deployment) => Promise<DeploymentSettings>;
    /** Change some settings; rejects with the server's message. */
    onApplySettings?: (
      deployment: Deployment,
      change: SettingsChange
    ) => Promise<DeploymentSettings>;
    /** Show a settings failure as a toast that stays. */
    onSettingsError?: (message: string, reason: unknown) => void;
    /** The version an alias of a model points at now, when known. */
    aliasVersion?: (model: string, alias: string) => string | undefined;
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
  const rollbackReason = d.variants.some(v => v.role === 'canary')
    ? null
    : props.rollbackBlocked?.(d);
  const requestedAs = honestRef(d, props.aliasVersion);
  const [settingsOpen, setSettingsOpen] = React.useState(false);
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
            <codeIcon.react tag="span" elementSize="normal" />
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
        <span className="jp-MLOps-rollout" title={trans.__('Variants')}>
          {d.model_name} {variantSummary(d.variants, d.model_version, trans)}
        </span>
        {requestedAs && (
          <span title={trans.__('Requested as')}> ({requestedAs})</span>
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
          {props.onPromote && (
            <WithReason
              reason={
                staged
                  ? null
                  : trans.__(
                      'Nothing to promote: deploy a version as a canary or shadow first.'
                    )
              }
            >
              <button
                type="button"
                className="jp-Button jp-mod-styled jp-mod-accept jp-MLOps-small"
                aria-label={trans.__('Promote the canary of %1', d.name)}
                disabled={!staged}
                onClick={() => props.onPromote?.(d)}
              >
                {trans.__('Promote')}
              </button>
            </WithReason>
          )}
          {props.onRollback && (
            <WithReason reason={rollbackReason ?? null}>
              <button
                type="button"
                className="jp-Button jp-mod-styled jp-mod-reject jp-MLOps-small"
                aria-label={trans.__('Roll back %1', d.name)}
                disabled={!!rollbackReason}
                onClick={() => props.onRollback?.(d)}
              >
                {trans.__('Roll back')}
              </button>
            </WithReason>
          )}
        </div>
      )}
      {props.onLoadSettings && props.onApplySettings && (
        <div className="jp-MLOps-settings-toggle">
          <button
            type="button"
            className="jp-Button jp-mod-styled jp-MLOps-small"
            aria-expanded={settingsOpen}
            aria-label={trans.__('Settings of %1', d.name)}
            title={trans.__(
              'Serving limits, automatic rollback and drift monitoring'
            )}
            onClick={() => setSettingsOpen(!settingsOpen)}
          >
            {trans.__('Settings')}
          </button>
          {settingsOpen && (
            <SettingsEditor
              deploymentName={d.name}
              onLoad={() => props.onLoadSettings!(d)}
              onApply={change => props.onApplySettings!(d, change)}
              onError={props.onSettingsError}
              trans={trans}
            />
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
  const unknown = isHealthUnknown(health);
  const colour = unknown ? 'unknown' : String(health.colour);
  const label = unknown
    ? trans.__('Health unknown: no requests monitored yet')
    : health.score === null || health.score === undefined
      ? trans.__('Health: %1', colour)
      : trans.__('Health %1 (%2)', Math.round(health.score), colour);
  return (
    <span
      className={`jp-MLOps-health jp-MLOps-health-${colour}`}
      data-health={colour}
      role="img"
      aria-label={label}
      title={label}
    />
  );
}

/**
 * Whether a health has no data behind it: the server says "unknown" (or gives
 * no score), or, from an older server, every component but availability is
 * empty (no requests, no drift, no labels).
 */
export function isHealthUnknown(health: Health): boolean {
  if (health.colour === 'unknown' || health.score === null) {
    return true;
  }
  const parts = health.components as Record<string, unknown> | undefined;
  if (!parts) {
    return false;
  }
  return Object.entries(parts).every(
    ([key, value]) => key === 'availability' || value === null
  );
}

/**
 * The rollout at a glance: "v1" alone, or "primary v1 80% · canary v2 20% ·
 * shadow v3" while a canary or shadow runs.
 */
export function variantSummary(
  variants: Variant[],
  fallbackVersion: string,
  trans: TranslationBundle
): string {
  if (variants.length === 0) {
    return trans.__('v%1', fallbackVersion);
  }
  if (variants.length === 1) {
    return trans.__('v%1', variants[0].model_version);
  }
  return variants
    .map(v =>
      v.role === 'shadow'
        ? trans.__('%1 v%2', v.name, v.model_version)
        : trans.__('%1 v%2 %3%', v.name, v.model_version, v.weight)
    )
    .join(' · ');
}

/**
 * What the deployment was requested as, only when it still tells the truth: an
 * alias that now points at another version than the primary serves is not
 * shown (the sidebar would claim `@champion` for a version it is not).
 */
export function honestRef(
  d: Deployment,
  aliasVersion?: (model: string, alias: string) => string | undefined
): string | null {
  const primary = d.variants.find(v => v.role === 'primary');
  const version = primary?.model_version ?? d.model_version;
  if (d.model_ref === `${d.model_name}/${version}`) {
    return null;
  }
  const at = d.model_ref.lastIndexOf('@');
  if (at < 0) {
    return null; // A bare name: the version shown says which.
  }
  const points = aliasVersion?.(
    d.model_ref.slice(0, at),
    d.model_ref.slice(at + 1)
  );
  return points === version ? d.model_ref : null;
}

/**
 * An action with the reason it is disabled as its tooltip (a disabled button
 * gets no hover events, so its wrapper carries the title).
 */
function WithReason(props: {
  reason: string | null;
  children: React.ReactElement;
}): React.ReactElement {
  return props.reason ? (
    <span className="jp-MLOps-why" title={props.reason}>
      {React.cloneElement(props.children, { title: props.reason })}
    </span>
  ) : (
    props.children
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
