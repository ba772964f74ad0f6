import { TranslationBundle } from '@jupyterlab/translation';
import { UseSignal } from '@jupyterlab/ui-components';
import React, { useEffect, useState } from 'react';
import {
  approvalRequestOf,
  Deployment,
  getDeploymentSettings,
  ModelVersion,
  RegisteredModel,
  updateDeploymentSettings
} from '../api';
import { notifyError } from '../notify';
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
import { offerApproval } from '../approvalOffer';

/** Wait (ms) after the last keystroke before searching the server. */
export const SEARCH_DELAY = 300;

export namespace ModelsView {
  export interface IProps {
    model: MLOpsModel;
    onDeploy: (model: RegisteredModel, version: ModelVersion) => void;
    /** Open a model's detail (versions, metrics, lineage, aliases). */
    onOpen?: (model: RegisteredModel) => void;
    trans: TranslationBundle;
  }
}

/**
 * The "Models" section: the catalog searched and paged by the server, bound
 * to the model's state.
 */
export function ModelsView(props: ModelsView.IProps): React.ReactElement {
  const { model, trans } = props;
  const [text, setText] = useState(model.filter);
  useEffect(() => {
    if (text === model.filter) {
      return;
    }
    const timer = setTimeout(() => (model.filter = text), SEARCH_DELAY);
    return () => clearTimeout(timer);
  }, [text, model]);
  return (
    <section className="jp-MLOps-section" aria-label={trans.__('Models')}>
      <input
        type="search"
        className="jp-mod-styled jp-MLOps-filter"
        placeholder={trans.__('Search models')}
        aria-label={trans.__('Search models')}
        value={text}
        onChange={e => setText(e.target.value)}
        onKeyDown={e => {
          if (e.key === 'Enter') {
            model.filter = text;
          } else if (e.key === 'Escape' && text) {
            e.stopPropagation();
            setText('');
            model.filter = '';
          }
        }}
      />
      <UseSignal signal={model.changed}>
        {() => {
          if (!model.loaded) {
            return <Loading trans={trans} />;
          }
          const filter = model.filter.trim();
          return (
            <>
              {model.error && (
                <LoadError
                  message={errorMessage(model.error, trans)}
                  onRetry={() => void model.refresh()}
                  trans={trans}
                />
              )}
              {model.models.length === 0 && !model.error && !filter && (
                <NoModels trans={trans} />
              )}
              {model.models.length === 0 && !model.error && filter && (
                <NoMatchingModels filter={filter} trans={trans} />
              )}
              {model.models.length > 0 && (
                <ModelList
                  models={model.models}
                  onDeploy={props.onDeploy}
                  onOpen={props.onOpen}
                  trans={trans}
                />
              )}
              {model.hasMoreModels && (
                <button
                  type="button"
                  className="jp-Button jp-mod-styled jp-MLOps-more"
                  onClick={() => void model.loadMoreModels()}
                >
                  {trans.__('Load more models')}
                </button>
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
    onInsertCode?: (deployment: Deployment) => void;
    onPromote?: (deployment: Deployment) => void;
    onRollback?: (deployment: Deployment) => void;
    onMonitor?: (deployment: Deployment) => void;
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
              onInsertCode={props.onInsertCode}
              onSetTraffic={async (d, weights) => {
                try {
                  await model.setTraffic(d.name, weights);
                } catch (reason) {
                  offerApproval(reason, trans); // and the editor shows why
                  throw reason;
                }
              }}
              onPromote={props.onPromote}
              onRollback={props.onRollback}
              onMonitor={props.onMonitor}
              onLoadSettings={d => getDeploymentSettings(d.name)}
              onApplySettings={async (d, change) => {
                try {
                  return await updateDeploymentSettings(d.name, change);
                } catch (reason) {
                  offerApproval(reason, trans);
                  throw reason;
                }
              }}
              onSettingsError={(message, reason) => {
                // A refusal for want of an approval already has its offer.
                if (!approvalRequestOf(reason)) {
                  notifyError(message);
                }
              }}
              health={name => model.health(name)}
              rollbackBlocked={d => {
                const reason = model.rollbackBlocked(d);
                return reason
                  ? trans.__(
                      'Nothing to roll back to: no canary to drop and no previous version served here.'
                    )
                  : reason;
              }}
              aliasVersion={(m, alias) => model.aliasVersion(m, alias)}
              trans={trans}
            />
          );
        }}
      </UseSignal>
    </section>
  );
}
