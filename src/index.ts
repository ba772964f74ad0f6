import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  InputDialog,
  MainAreaWidget,
  Notification,
  WidgetTracker
} from '@jupyterlab/apputils';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';
import { checkIcon, refreshIcon } from '@jupyterlab/ui-components';
import { Deployment, RegisteredModel } from './api';
import { CommandIDs } from './commands';
import { mlopsIcon } from './icons';
import { MLOpsModel } from './model';
// The sidebar tab must exist as soon as the application starts.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { copyUrl, MLOpsSidePanel } from './widgets/MLOpsSidePanel';

export { CommandIDs } from './commands';
export { MLOpsModel } from './model';

const PLUGIN_ID = 'jupyter_mlops:plugin';
const CATEGORY = 'MLOps';

const NO_ARGS = { type: 'object', properties: {} };
const MODEL_ARGS = {
  type: 'object',
  properties: {
    model: { type: 'string', description: 'Registered model name' }
  }
};
const DEPLOYMENT_ARGS = {
  type: 'object',
  properties: {
    name: { type: 'string', description: 'Deployment name' }
  }
};
const DEPLOY_ARGS = {
  type: 'object',
  properties: {
    model: {
      type: 'string',
      description: 'Registered model name; a list to pick from when absent'
    },
    version: {
      type: 'string',
      description: 'Model version; the newest when absent'
    }
  }
};

/**
 * The MLOps sidebar: registered models and deployments, with commands to open
 * it, refresh it and deploy a model version.
 */
const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Register, deploy and monitor ML models from JupyterLab, with MLflow as the system of record.',
  autoStart: true,
  optional: [
    ILayoutRestorer,
    ISettingRegistry,
    ITranslator,
    ICommandPalette,
    INotebookTracker
  ],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null,
    palette: ICommandPalette | null,
    notebooks: INotebookTracker | null
  ): void => {
    translator = translator ?? nullTranslator;
    const trans = translator.load('jupyter_mlops');
    const { commands, shell } = app;
    let defaultTarget = 'local';
    let targetFromSettings = false;

    const model = new MLOpsModel();
    const panel = new MLOpsSidePanel({ model, commands, translator });
    shell.add(panel, 'left', { rank: 700 });
    if (restorer) {
      restorer.add(panel, panel.id);
    }

    // Only report a failing refresh once the server is known to be there: a
    // missing server extension is already explained by the handshake.
    let serverPresent = false;
    void app.restored
      .then(() => import('./handshake'))
      .then(({ checkServerVersion }) => checkServerVersion(trans))
      .then(result => {
        serverPresent = result === 'ok' || result === 'mismatch';
      });
    // The server's default target applies unless the user chose one.
    void app.restored
      .then(() => model.loadUIConfig())
      .then(config => {
        if (config?.default_target && !targetFromSettings) {
          defaultTarget = config.default_target;
        }
      });
    model.refreshFailed.connect((_, error) => {
      if (serverPresent) {
        Notification.error(
          trans.__('MLOps could not refresh: %1', error.message),
          { autoClose: 5000 }
        );
      }
    });

    if (settingRegistry) {
      settingRegistry
        .load(PLUGIN_ID)
        .then(settings => {
          const apply = () => {
            const seconds = settings.get('refreshInterval').composite as number;
            model.refreshInterval = Math.max(1, seconds) * 1000;
            const chosen = settings.get('defaultTarget');
            targetFromSettings = chosen.user !== undefined;
            defaultTarget =
              targetFromSettings || !model.uiConfig?.default_target
                ? (chosen.composite as string) || 'local'
                : model.uiConfig.default_target;
          };
          apply();
          settings.changed.connect(apply);
        })
        .catch(reason => {
          Notification.error(
            trans.__('Could not load the MLOps settings: %1', String(reason))
          );
        });
    }

    commands.addCommand(CommandIDs.open, {
      label: trans.__('Open MLOps panel'),
      caption: trans.__('Show registered models and deployments'),
      icon: mlopsIcon,
      describedBy: { args: NO_ARGS },
      execute: () => {
        shell.activateById(panel.id);
      }
    });

    commands.addCommand(CommandIDs.refresh, {
      label: trans.__('Refresh MLOps models and deployments'),
      caption: trans.__('Refresh models and deployments'),
      icon: args => (args.isPalette ? undefined : refreshIcon),
      describedBy: { args: NO_ARGS },
      execute: () => model.refresh()
    });

    commands.addCommand(CommandIDs.deploy, {
      label: args =>
        args.model
          ? trans.__('Deploy %1', modelRefLabel(args))
          : trans.__('Deploy a model…'),
      caption: trans.__('Serve a registered model version behind an endpoint'),
      describedBy: { args: DEPLOY_ARGS },
      execute: async args => {
        const choice = await chooseVersion(
          model,
          (args.model as string | undefined) ??
            (args.fromContextMenu ? hitData(app, 'modelName') : undefined),
          args.version as string | undefined,
          trans
        );
        if (!choice) {
          return null;
        }
        shell.activateById(panel.id);
        const { deployWithDialog } = await import('./widgets/dialogs');
        return deployWithDialog({
          model,
          modelName: choice.model.name,
          version: choice.version,
          aliases:
            choice.model.versions.find(v => v.version === choice.version)
              ?.aliases ?? [],
          defaultTarget,
          trans
        });
      }
    });

    const details = new WidgetTracker<MainAreaWidget>({
      namespace: 'jupyter_mlops-model'
    });
    const deployVersion = (m: RegisteredModel, version: string) =>
      void commands.execute(CommandIDs.deploy, { model: m.name, version });

    // One main-area tab per id: a second open activates the first.
    const showTab = (id: string, create: () => MainAreaWidget): void => {
      const open = details.find(w => w.id === id);
      if (open) {
        shell.activateById(open.id);
        return;
      }
      const panel = create();
      void details.add(panel);
      shell.add(panel, 'main');
      shell.activateById(panel.id);
    };

    // From a context menu, the row it was opened on says which deployment.
    const deploymentName = (args: {
      name?: unknown;
      fromContextMenu?: unknown;
    }): string | undefined =>
      (args.name as string | undefined) ??
      (args.fromContextMenu ? hitData(app, 'deploymentName') : undefined);

    commands.addCommand(CommandIDs.openModel, {
      label: args =>
        args.model
          ? trans.__('Open model %1', String(args.model))
          : trans.__('Open model details'),
      caption: trans.__(
        'Versions, metrics, parameters, signature, lineage and aliases of a model'
      ),
      icon: mlopsIcon,
      describedBy: { args: MODEL_ARGS },
      execute: async args => {
        const name =
          (args.model as string | undefined) ??
          (args.fromContextMenu ? hitData(app, 'modelName') : undefined);
        if (!name) {
          return;
        }
        const { createDetailPanel, detailId } =
          await import('./widgets/detail');
        showTab(detailId(name), () =>
          createDetailPanel({
            name,
            model,
            trans,
            onDeploy: (m, version) => deployVersion(m, version.version)
          })
        );
      }
    });

    const findDeployment = (args: {
      name?: unknown;
      fromContextMenu?: unknown;
    }): Deployment | undefined => {
      const name = deploymentName(args);
      return model.deployments.find(d => d.name === name);
    };

    commands.addCommand(CommandIDs.insertCode, {
      label: trans.__('Insert code calling the deployment'),
      caption: trans.__(
        'Add a cell below the active cell that scores the deployment'
      ),
      describedBy: { args: DEPLOYMENT_ARGS },
      execute: args => insertCode(findDeployment(args))
    });

    async function insertCode(
      deployment: Deployment | undefined
    ): Promise<void> {
      const panel = notebooks?.currentWidget;
      if (!deployment) {
        return;
      }
      if (!panel) {
        Notification.warning(
          trans.__(
            'Open a notebook to insert code calling %1.',
            deployment.name
          )
        );
        return;
      }
      const { predictionSnippet } = await import('./utils');
      const notebook = panel.content;
      NotebookActions.insertBelow(notebook);
      notebook.activeCell?.model.sharedModel.setSource(
        predictionSnippet(deployment)
      );
      shell.activateById(panel.id);
    }

    // A command opening one main-area tab per deployment.
    const addDeploymentTab = (
      id: string,
      label: string,
      caption: string,
      open: (name: string) => Promise<void>
    ): void => {
      commands.addCommand(id, {
        label,
        caption,
        icon: mlopsIcon,
        describedBy: { args: DEPLOYMENT_ARGS },
        execute: async args => {
          const name = deploymentName(args);
          if (name) {
            await open(name);
          }
        }
      });
    };

    addDeploymentTab(
      CommandIDs.monitor,
      trans.__('Monitoring and history'),
      trans.__(
        'Traffic, latency, drift, alerts and rollout history of a deployment'
      ),
      async name => {
        const { createMonitoringPanel, monitoringId } =
          await import('./widgets/monitoring');
        showTab(monitoringId(name), () =>
          createMonitoringPanel({ name, model, trans })
        );
      }
    );

    addDeploymentTab(
      CommandIDs.governance,
      trans.__('Lineage, audit and model card'),
      trans.__(
        'Where a deployment comes from, who changed it, and its model card'
      ),
      async name => {
        const { createGovernancePanel, governanceId } =
          await import('./widgets/governance');
        showTab(governanceId(name), () =>
          createGovernancePanel({ name, trans })
        );
      }
    );

    commands.addCommand(CommandIDs.audit, {
      label: trans.__('Open MLOps audit log'),
      caption: trans.__('Who registered, deployed and changed what, and when'),
      icon: mlopsIcon,
      describedBy: { args: NO_ARGS },
      execute: async () => {
        const { AUDIT_ID, createAuditPanel } = await import('./widgets/audit');
        showTab(AUDIT_ID, () => createAuditPanel(trans));
      }
    });

    commands.addCommand(CommandIDs.approvals, {
      label: trans.__('Open MLOps approvals'),
      caption: trans.__(
        'Protected changes waiting for an approver, with their evidence'
      ),
      icon: checkIcon,
      describedBy: { args: NO_ARGS },
      execute: async () => {
        const { APPROVALS_ID, createApprovalsPanel } =
          await import('./widgets/approvals');
        showTab(APPROVALS_ID, () => createApprovalsPanel(trans));
      }
    });

    // Each alert that fires while JupyterLab runs is shown once.
    model.alertFired.connect((_, alert) => {
      Notification.warning(
        trans.__(
          'MLOps alert on %1: %2',
          alert.deployment ?? '?',
          alert.message
        ),
        {
          autoClose: false,
          actions: alert.deployment
            ? [
                {
                  label: trans.__('Open monitoring'),
                  callback: () =>
                    void commands.execute(CommandIDs.monitor, {
                      name: alert.deployment as string
                    })
                }
              ]
            : []
        }
      );
    });

    commands.addCommand(CommandIDs.copyUrl, {
      label: trans.__('Copy endpoint URL'),
      describedBy: { args: DEPLOYMENT_ARGS },
      execute: args => {
        const deployment = findDeployment(args);
        if (deployment?.url) {
          copyUrl(deployment.url, trans);
        }
      }
    });

    commands.addCommand(CommandIDs.stop, {
      label: trans.__('Stop deployment…'),
      describedBy: { args: DEPLOYMENT_ARGS },
      execute: async args => {
        const deployment = findDeployment(args);
        if (deployment) {
          const { stopWithConfirmation } = await import('./widgets/dialogs');
          await stopWithConfirmation(model, deployment, trans);
        }
      }
    });

    // Context menus on the sidebar's rows: the row's data attributes say which.
    app.contextMenu.addItem({
      command: CommandIDs.openModel,
      selector: '.jp-MLOps-model',
      args: { fromContextMenu: true },
      rank: 1
    });
    app.contextMenu.addItem({
      command: CommandIDs.deploy,
      selector: '.jp-MLOps-model',
      args: { fromContextMenu: true },
      rank: 2
    });
    for (const [command, rank] of [
      [CommandIDs.insertCode, 1],
      [CommandIDs.monitor, 2],
      [CommandIDs.copyUrl, 3],
      [CommandIDs.stop, 4],
      [CommandIDs.governance, 5]
    ] as const) {
      app.contextMenu.addItem({
        command,
        selector: '.jp-MLOps-deployment',
        args: { fromContextMenu: true },
        rank
      });
    }

    if (palette) {
      for (const command of [
        CommandIDs.open,
        CommandIDs.refresh,
        CommandIDs.deploy,
        CommandIDs.audit,
        CommandIDs.approvals
      ]) {
        palette.addItem({ command, category: CATEGORY });
      }
    }
  }
};

/**
 * A data attribute of the sidebar row a context menu was opened on.
 */
function hitData(
  app: JupyterFrontEnd,
  key: 'modelName' | 'deploymentName'
): string | undefined {
  const node = app.contextMenuHitTest(n => n.dataset[key] !== undefined);
  return node?.dataset[key];
}

function modelRefLabel(args: { model?: unknown; version?: unknown }): string {
  return args.version ? `${args.model}/${args.version}` : String(args.model);
}

/**
 * Find the model version to deploy: the one given, the newest version of the
 * model given, or one picked from a list when nothing was given.
 */
async function chooseVersion(
  model: MLOpsModel,
  name: string | undefined,
  version: string | undefined,
  trans: TranslationBundle
): Promise<{ model: RegisteredModel; version: string } | null> {
  if (!model.loaded) {
    await model.refresh();
  }
  if (!name) {
    const refs = model.models.flatMap(m =>
      m.versions.map(v => `${m.name}/${v.version}`)
    );
    if (refs.length === 0) {
      Notification.warning(
        trans.__(
          'No models yet. Register one from a notebook: %register model --name churn'
        )
      );
      return null;
    }
    const picked = await InputDialog.getItem({
      title: trans.__('Deploy a model'),
      label: trans.__('Model version'),
      items: refs
    });
    if (!picked.button.accept || !picked.value) {
      return null;
    }
    const index = picked.value.lastIndexOf('/');
    name = picked.value.slice(0, index);
    version = picked.value.slice(index + 1);
  }
  // The sidebar holds one page of a large catalog: ask the server otherwise.
  let registered = model.models.find(m => m.name === name);
  if (!registered) {
    try {
      registered = await model.getModel(name);
    } catch (reason) {
      Notification.error(
        reason instanceof Error
          ? reason.message
          : trans.__('Model %1 is not registered.', name)
      );
      return null;
    }
  }
  const chosen = version ?? registered.versions[0]?.version;
  if (!chosen || !registered.versions.some(v => v.version === chosen)) {
    Notification.error(
      trans.__('Model %1 has no version %2.', name, chosen ?? '?')
    );
    return null;
  }
  return { model: registered, version: chosen };
}

export default plugin;
