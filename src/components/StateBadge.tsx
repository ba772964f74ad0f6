import { TranslationBundle } from '@jupyterlab/translation';
import React from 'react';
import { DeploymentState } from '../api';
import { isInProgress } from '../utils';

/** How a state is shown: its colour family. */
export type StateTone = 'ok' | 'busy' | 'error' | 'neutral';

export function toneOf(state: DeploymentState): StateTone {
  if (state === 'ready') {
    return 'ok';
  }
  if (state === 'failed') {
    return 'error';
  }
  return isInProgress(state) ? 'busy' : 'neutral';
}

export function stateLabel(
  state: DeploymentState,
  trans: TranslationBundle
): string {
  switch (state) {
    case 'pending':
      return trans.__('pending');
    case 'resolving':
      return trans.__('resolving');
    case 'loading':
      return trans.__('loading');
    case 'warming':
      return trans.__('warming');
    case 'ready':
      return trans.__('ready');
    case 'failed':
      return trans.__('failed');
    case 'stopped':
      return trans.__('stopped');
    default:
      return trans.__('unknown');
  }
}

/**
 * A small spinning circle for work in progress (CSS animation).
 */
export function Spinner(): React.ReactElement {
  return <span className="jp-MLOps-spinner" aria-hidden="true" />;
}

/**
 * The state of a deployment as a coloured badge: green when ready, amber with
 * a spinner while in progress, red when failed.
 */
export function StateBadge(props: {
  state: DeploymentState;
  trans: TranslationBundle;
}): React.ReactElement {
  const { state, trans } = props;
  const tone = toneOf(state);
  return (
    <span
      className={`jp-MLOps-badge jp-MLOps-badge-${tone}`}
      data-state={state}
      title={trans.__('State: %1', stateLabel(state, trans))}
    >
      {tone === 'busy' && <Spinner />}
      {stateLabel(state, trans)}
    </span>
  );
}
