import { MainAreaWidget } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import React from 'react';
import { ModelVersion, RegisteredModel } from '../api';
import { apiInventory, ModelDetail } from '../components/ModelDetail';
import { MLOpsModel } from '../model';
import { createLoadedPanel, LoadedWidget } from './loaded';

/**
 * A registered model in detail, read from the server when opened and after
 * each alias change (the sidebar's list only carries version summaries).
 */
export class ModelDetailWidget extends LoadedWidget<RegisteredModel> {
  constructor(private _options: ModelDetailWidget.IOptions) {
    super(_options.trans);
    void this.reload();
  }

  get name(): string {
    return this._options.name;
  }

  /** The model as last read, or null before the first answer. */
  get detail(): RegisteredModel | null {
    return this.data;
  }

  protected load(): Promise<RegisteredModel> {
    return this._options.model.getModel(this._options.name);
  }

  protected renderLoaded(detail: RegisteredModel): React.ReactElement {
    const { model, name } = this._options;
    return (
      <ModelDetail
        model={detail}
        mlflowUiUrl={model.uiConfig?.mlflow_ui_url}
        inventory={apiInventory}
        onDeploy={version => this._options.onDeploy(detail, version)}
        onSetAlias={async (alias, version) => {
          await model.setAlias(name, alias, version);
          await this.reload();
        }}
        onDeleteAlias={async alias => {
          await model.deleteAlias(name, alias);
          await this.reload();
        }}
        trans={this.trans}
      />
    );
  }
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
  return createLoadedPanel(new ModelDetailWidget(options), {
    id: detailId(options.name),
    label: options.trans.__('Model: %1', options.name),
    refreshTooltip: options.trans.__('Read the model again')
  });
}
