import { MainAreaWidget, ReactWidget } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { refreshIcon, ToolbarButton } from '@jupyterlab/ui-components';
import React from 'react';
import { ModelVersion, RegisteredModel } from '../api';
import { LoadError, Loading } from '../components/EmptyState';
import { ModelDetail } from '../components/ModelDetail';
import { mlopsIcon } from '../icons';
import { MLOpsModel } from '../model';
import { MLOpsRequestError } from '../request';

/**
 * A registered model in detail, read from the server when opened and after
 * each alias change (the sidebar's list only carries version summaries).
 */
export class ModelDetailWidget extends ReactWidget {
  constructor(private _options: ModelDetailWidget.IOptions) {
    super();
    this.addClass('jp-MLOps-detail-widget');
    void this.reload();
  }

  get name(): string {
    return this._options.name;
  }

  /** The model as last read, or null before the first answer. */
  get detail(): RegisteredModel | null {
    return this._detail;
  }

  /** Read the model again from the server. */
  async reload(): Promise<void> {
    try {
      this._detail = await this._options.model.getModel(this._options.name);
      this._error = null;
    } catch (reason) {
      this._error =
        reason instanceof MLOpsRequestError ? reason.message : String(reason);
    }
    this.update();
  }

  protected render(): React.ReactElement {
    const { model, trans } = this._options;
    if (this._error) {
      return (
        <LoadError
          message={this._error}
          onRetry={() => void this.reload()}
          trans={trans}
        />
      );
    }
    if (!this._detail) {
      return <Loading trans={trans} />;
    }
    return (
      <ModelDetail
        model={this._detail}
        mlflowUiUrl={model.uiConfig?.mlflow_ui_url}
        onDeploy={version => this._options.onDeploy(this._detail!, version)}
        onSetAlias={async (alias, version) => {
          await model.setAlias(this._options.name, alias, version);
          await this.reload();
        }}
        onDeleteAlias={async alias => {
          await model.deleteAlias(this._options.name, alias);
          await this.reload();
        }}
        trans={trans}
      />
    );
  }

  private _detail: RegisteredModel | null = null;
  private _error: string | null = null;
}

export namespace ModelDetailWidget {
  export interface IOptions {
    name: string;
    model: MLOpsModel;
    onDeploy: (model: RegisteredModel, version: ModelVersion) => void;
    trans: TranslationBundle;
  }
}

/** The main-area id of a model's detail tab (one tab per model). */
export function detailId(name: string): string {
  return `jp-mlops-model-${encodeURIComponent(name)}`;
}

/**
 * A model's detail in a main-area tab with a refresh button.
 */
export function createDetailPanel(
  options: ModelDetailWidget.IOptions
): MainAreaWidget<ModelDetailWidget> {
  const content = new ModelDetailWidget(options);
  const panel = new MainAreaWidget({ content });
  panel.id = detailId(options.name);
  panel.title.label = options.trans.__('Model: %1', options.name);
  panel.title.icon = mlopsIcon;
  panel.title.closable = true;
  panel.toolbar.addItem(
    'refresh',
    new ToolbarButton({
      icon: refreshIcon,
      tooltip: options.trans.__('Read the model again'),
      onClick: () => void content.reload()
    })
  );
  return panel;
}
