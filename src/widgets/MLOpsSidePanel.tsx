import { Clipboard, Notification, ReactWidget } from '@jupyterlab/apputils';
import { ITranslator, TranslationBundle } from '@jupyterlab/translation';
import {
  CommandToolbarButton,
  checkIcon,
  listIcon,
  refreshIcon,
  SidePanel
} from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';
import React from 'react';
import { CommandIDs } from '../tokens';
import { mlopsIcon } from '../icons';
import { MLOpsModel } from '../model';
import {
  promoteWithConfirmation,
  rollbackWithConfirmation,
  stopWithConfirmation
} from './dialogs';
import { DeploymentsView, ModelsView } from './sections';

/** The id of the sidebar widget (and of its tab: `data-id`). */
export const SIDEBAR_ID = 'jp-mlops-sidebar';

/**
 * The MLOps sidebar: a toolbar, then collapsible "Models" and "Deployments"
 * sections. Polling runs only while the sidebar is shown.
 */
export class MLOpsSidePanel extends SidePanel {
  constructor(options: MLOpsSidePanel.IOptions) {
    super({ translator: options.translator });
    const { model, commands } = options;
    const trans = options.translator.load('jupyter_mlops');
    this._model = model;
    this.id = SIDEBAR_ID;
    this.addClass('jp-MLOps-panel');
    this.title.icon = mlopsIcon;
    this.title.caption = trans.__('MLOps');

    const heading = document.createElement('h2');
    heading.textContent = trans.__('MLOps');
    heading.classList.add('jp-text-truncated');
    this.header.addWidget(new Widget({ node: heading }));

    this.toolbar.addItem(
      'refresh',
      new CommandToolbarButton({
        commands,
        id: CommandIDs.refresh,
        icon: refreshIcon,
        label: ''
      })
    );
    this.toolbar.addItem(
      'audit',
      new CommandToolbarButton({
        commands,
        id: CommandIDs.audit,
        icon: listIcon,
        label: ''
      })
    );
    this.toolbar.addItem(
      'approvals',
      new CommandToolbarButton({
        commands,
        id: CommandIDs.approvals,
        icon: checkIcon,
        label: ''
      })
    );

    const models = ReactWidget.create(
      <ModelsView
        model={model}
        trans={trans}
        onDeploy={(m, version) =>
          void commands.execute(CommandIDs.deploy, {
            model: m.name,
            version: version.version
          })
        }
        onOpen={m =>
          void commands.execute(CommandIDs.openModel, { model: m.name })
        }
      />
    );
    models.id = `${SIDEBAR_ID}-models`;
    models.title.label = trans.__('Models');
    models.addClass('jp-MLOps-models');
    this.addWidget(models);

    // What helps after a refused rollout change: the deployment's history.
    const history = (name: string) => [
      {
        label: trans.__('Open history'),
        callback: () => void commands.execute(CommandIDs.monitor, { name })
      }
    ];
    const deployments = ReactWidget.create(
      <DeploymentsView
        model={model}
        trans={trans}
        onStop={d => void stopWithConfirmation(model, d, trans)}
        onCopyUrl={url => copyUrl(url, trans)}
        onInsertCode={d =>
          void commands.execute(CommandIDs.insertCode, { name: d.name })
        }
        onPromote={d =>
          void promoteWithConfirmation(model, d, trans, history(d.name))
        }
        onRollback={d =>
          void rollbackWithConfirmation(model, d, trans, history(d.name))
        }
        onMonitor={d =>
          void commands.execute(CommandIDs.monitor, { name: d.name })
        }
      />
    );
    deployments.id = `${SIDEBAR_ID}-deployments`;
    deployments.title.label = trans.__('Deployments');
    deployments.addClass('jp-MLOps-deployments');
    this.addWidget(deployments);
  }

  get model(): MLOpsModel {
    return this._model;
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._model.active = true;
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this._model.active = false;
  }

  private _model: MLOpsModel;
}

export namespace MLOpsSidePanel {
  export interface IOptions {
    model: MLOpsModel;
    commands: CommandRegistry;
    translator: ITranslator;
  }
}

export function copyUrl(url: string, trans: TranslationBundle): void {
  Clipboard.copyToSystem(url);
  Notification.info(trans.__('Copied %1', url), { autoClose: 2000 });
}
