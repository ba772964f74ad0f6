import { TranslationBundle } from '@jupyterlab/translation';
import React from 'react';

/** The magic that registers a model, shown when there is none. */
export const REGISTER_EXAMPLE = '%register model --name churn';

/** The line that loads the magics in a notebook, before any `%register`. */
export const LOAD_EXTENSION = '%load_ext jupyter_mlops';

/**
 * A message shown in place of an empty list, saying what to do next.
 */
export function EmptyState(props: {
  title: string;
  children?: React.ReactNode;
}): React.ReactElement {
  return (
    <div className="jp-MLOps-empty" role="status">
      <p className="jp-MLOps-empty-title">{props.title}</p>
      {props.children}
    </div>
  );
}

export function NoModels(props: {
  trans: TranslationBundle;
}): React.ReactElement {
  const { trans } = props;
  return (
    <EmptyState title={trans.__('No models yet.')}>
      <p className="jp-MLOps-empty-hint">
        {trans.__('Register one from a notebook: run')}{' '}
        <code>{LOAD_EXTENSION}</code> {trans.__('once, then')}{' '}
        <code>{REGISTER_EXAMPLE}</code>
      </p>
    </EmptyState>
  );
}

export function NoMatchingModels(props: {
  filter: string;
  trans: TranslationBundle;
}): React.ReactElement {
  return (
    <EmptyState
      title={props.trans.__('No model name contains "%1".', props.filter)}
    />
  );
}

export function NoDeployments(props: {
  trans: TranslationBundle;
}): React.ReactElement {
  const { trans } = props;
  return (
    <EmptyState title={trans.__('No deployments yet.')}>
      <p className="jp-MLOps-empty-hint">
        {trans.__(
          'Press Deploy next to a model version above to serve it behind an endpoint.'
        )}
      </p>
    </EmptyState>
  );
}

export function Loading(props: {
  trans: TranslationBundle;
}): React.ReactElement {
  return (
    <EmptyState title={props.trans.__('Loading…')}>
      <span className="jp-MLOps-spinner" aria-hidden="true" />
    </EmptyState>
  );
}

/**
 * Shown when the server could not be reached or answered with an error.
 */
export function LoadError(props: {
  message: string;
  onRetry: () => void;
  /** What went wrong, when known better than "cannot load". */
  title?: string;
  trans: TranslationBundle;
}): React.ReactElement {
  const { trans } = props;
  return (
    <div className="jp-MLOps-empty jp-MLOps-error" role="alert">
      <p className="jp-MLOps-empty-title">
        {props.title ?? trans.__('Cannot load from the MLOps server.')}
      </p>
      <p className="jp-MLOps-message">{props.message}</p>
      <button
        type="button"
        className="jp-Button jp-mod-styled jp-mod-reject"
        onClick={props.onRetry}
      >
        {trans.__('Retry')}
      </button>
    </div>
  );
}
