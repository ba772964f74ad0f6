import { TranslationBundle } from '@jupyterlab/translation';
import React from 'react';
import { Deployment, DeploymentStep, StepStatus } from '../api';
import { stepsOf } from '../utils';
import { Spinner } from './StateBadge';

export function stepLabel(name: string, trans: TranslationBundle): string {
  switch (name) {
    case 'resolving':
      return trans.__('Resolving the model version');
    case 'loading':
      return trans.__('Loading the model');
    case 'warming':
      return trans.__('Warming up');
    case 'ready':
      return trans.__('Ready to serve');
    default:
      return name;
  }
}

function statusLabel(status: StepStatus, trans: TranslationBundle): string {
  switch (status) {
    case 'done':
      return trans.__('done');
    case 'running':
      return trans.__('in progress');
    case 'failed':
      return trans.__('failed');
    default:
      return trans.__('waiting');
  }
}

function StepMarker(props: { status: StepStatus }): React.ReactElement {
  if (props.status === 'running') {
    return <Spinner />;
  }
  const glyph =
    props.status === 'done' ? '✓' : props.status === 'failed' ? '✕' : '○';
  return (
    <span className="jp-MLOps-step-marker" aria-hidden="true">
      {glyph}
    </span>
  );
}

function StepItem(props: {
  step: DeploymentStep;
  trans: TranslationBundle;
}): React.ReactElement {
  const { step, trans } = props;
  return (
    <li
      className={`jp-MLOps-step jp-MLOps-step-${step.status}`}
      data-step={step.name}
      data-status={step.status}
      aria-label={`${stepLabel(step.name, trans)}: ${statusLabel(step.status, trans)}`}
    >
      <StepMarker status={step.status} />
      <span className="jp-MLOps-step-label">{stepLabel(step.name, trans)}</span>
      {step.status === 'failed' && step.message && (
        <span className="jp-MLOps-message">{step.message}</span>
      )}
    </li>
  );
}

/**
 * The steps of a deployment, resolving → loading → warming → ready, each
 * marked done, running, failed or waiting; the failure message is shown on the
 * step that failed, or under the list when no step carries it.
 */
export function DeployProgress(props: {
  deployment: Deployment;
  trans: TranslationBundle;
}): React.ReactElement {
  const { deployment, trans } = props;
  const steps = stepsOf(deployment);
  const stepMessage = steps.some(s => s.status === 'failed' && s.message);
  return (
    <div className="jp-MLOps-progress">
      <ol
        className="jp-MLOps-steps"
        aria-label={trans.__('Progress of deployment %1', deployment.name)}
      >
        {steps.map(step => (
          <StepItem key={step.name} step={step} trans={trans} />
        ))}
      </ol>
      {deployment.state === 'failed' && deployment.message && !stepMessage && (
        <p className="jp-MLOps-message jp-MLOps-error" role="alert">
          {deployment.message}
        </p>
      )}
    </div>
  );
}
