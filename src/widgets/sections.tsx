import { TranslationBundle } from '@jupyterlab/translation';
import { UseSignal } from '@jupyterlab/ui-components';
import React, { useState } from 'react';
import { Deployment, ModelVersion, RegisteredModel } from '../api';
import { DeploymentList } from '../components/DeploymentList';
import {
  Loading,
  LoadError,
  NoDeployments,
  NoMatchingModels,
  NoModels
} from '../components/EmptyState';
import { ModelList } from '../components/ModelList';
import { MLOpsModel } from '../model';
import { MLOpsRequestError } from '../request';

/** Show a filter box once a list is this long. */
export const FILTER_THRESHOLD = 6;

export namespace ModelsView {
  export interface IProps {
    model: MLOpsModel;
    onDeploy: (model: RegisteredModel, version: ModelVersion) => void;
    trans: TranslationBundle;
  }
}

/**
 * The "Models" section: registered models bound to the model's state.
 */
export function ModelsView(props: ModelsView.IProps): React.ReactElement {
  const { model, trans } = props;
  const [filter, setFilter] = useState('');
  return (
    <section className="jp-MLOps-section" aria-label={trans.__('Models')}>
      <UseSignal signal={model.changed}>
        {() => {
          if (!model.loaded) {
            return <Loading trans={trans} />;
          }
          const needle = filter.trim().toLowerCase();
          const models = needle
            ? model.models.filter(m => m.name.toLowerCase().includes(needle))
            : model.models;
          return (
            <>
              {model.error && (
                <LoadError
                  message={errorMessage(model.error, trans)}
                  onRetry={() => void model.refresh()}
                  trans={trans}
                />
              )}
              {(model.models.length >= FILTER_THRESHOLD || filter) && (
                <input
                  type="search"
                  className="jp-mod-styled jp-MLOps-filter"
                  placeholder={trans.__('Filter models')}
                  aria-label={trans.__('Filter models')}
                  value={filter}
                  onChange={e => setFilter(e.target.value)}
                />
              )}
              {model.models.length === 0 && !model.error && (
                <NoModels trans={trans} />
              )}
              {model.models.length > 0 && models.length === 0 && (
                <NoMatchingModels filter={filter} trans={trans} />
              )}
              {models.length > 0 && (
                <ModelList
                  models={models}
                  onDeploy={props.onDeploy}
                  trans={trans}
                />
              )}
            </>
          );
        }}
      </UseSignal>
    </section>
  );
}

/**
 * What to tell the user about a failed refresh: a 404 on the lists means the
 * server extension is not there at all.
 */
export function errorMessage(
  error: MLOpsRequestError,
  trans: TranslationBundle
): string {
  if (error.status === 404) {
    return trans.__(
      'The jupyter_mlops server extension is not enabled: run `jupyter server extension enable jupyter_mlops` and restart JupyterLab.'
    );
  }
  return error.message;
}

export namespace DeploymentsView {
  export interface IProps {
    model: MLOpsModel;
    onStop: (deployment: Deployment) => void;
    onCopyUrl: (url: string) => void;
    trans: TranslationBundle;
  }
}

/**
 * The "Deployments" section: deployments bound to the model's state.
 */
export function DeploymentsView(
  props: DeploymentsView.IProps
): React.ReactElement {
  const { model, trans } = props;
  return (
    <section className="jp-MLOps-section" aria-label={trans.__('Deployments')}>
      <UseSignal signal={model.changed}>
        {() => {
          if (!model.loaded) {
            return <Loading trans={trans} />;
          }
          if (model.deployments.length === 0) {
            // A load error is already shown in the Models section.
            return model.error ? null : <NoDeployments trans={trans} />;
          }
          return (
            <DeploymentList
              deployments={model.deployments}
              onStop={props.onStop}
              onCopyUrl={props.onCopyUrl}
              trans={trans}
            />
          );
        }}
      </UseSignal>
    </section>
  );
}
