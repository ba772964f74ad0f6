import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  ICommandPalette,
  InputDialog,
  MainAreaWidget,
  Notification,
  WidgetTracker
} from '@jupyterlab/apputils';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { TranslationBundle } from '@jupyterlab/translation';
import { checkIcon, refreshIcon } from '@jupyterlab/ui-components';
import { Deployment, RegisteredModel } from './api';
import { mlopsIcon } from './icons';
import { MLOpsModel } from './model';
import { notifyError, reasonText } from './notify';
import { CommandIDs } from './tokens';
import { copyUrl } from './widgets/MLOpsSidePanel';

/** The palette category of every MLOps command. */
export const CATEGORY = 'MLOps';

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

/** What the commands work on. */
export interface ICommandsContext {
  app: JupyterFrontEnd;
  model: MLOpsModel;
  /** The sidebar's widget id (the open command activates it). */
  panelId: string;
  trans: TranslationBundle;
  notebooks: INotebookTracker | null;
  /** Renders model cards (Markdown, sanitized), when JupyterLab has it. */
  rendermime: IRenderMimeRegistry | null;
  /** The target a new deployment goes to unless the user picks another. */
  defaultTarget: () => string;
}

/**
 * Register the MLOps commands: open and refresh the sidebar, deploy, open a
 * model, a deployment's monitoring or governance, the audit log, approvals,
 * insert code, copy the URL and stop a deployment.
 */
export function addCommands(context: ICommandsContext): void {
  const { app, model, panelId, trans, notebooks } = context;
  const { commands, shell } = app;

  commands.addCommand(CommandIDs.open, {
    label: trans.__('Open MLOps panel'),
    caption: trans.__('Show registered models and deployments'),
    icon: mlopsIcon,
    describedBy: { args: NO_ARGS },
    execute: () => {
      shell.activateById(panelId);
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
      shell.activateById(panelId);
      const { deployWithDialog } = await import('./widgets/dialogs');
      return deployWithDialog({
        model,
        modelName: choice.model.name,
        version: choice.version,
        aliases:
          choice.model.versions.find(v => v.version === choice.version)
            ?.aliases ?? [],
        defaultTarget: context.defaultTarget(),
        trans
      });
    }
  });

  // Lives as long as the application: the tabs it tracks are restored by it.
  // eslint-disable-next-line jupyter/require-disposable-ownership
  const details = new WidgetTracker<MainAreaWidget>({
    namespace: 'jupyter_mlops-model'
  });

  // One main-area tab per id: a second open activates the first.
  const showTab = (id: string, create: () => MainAreaWidget): void => {
    const open = details.find(w => w.id === id);
    if (open) {
      shell.activateById(open.id);
      // Reopened: read again rather than show what may be stale.
      const content = open.content as { reload?: () => Promise<void> };
      void content.reload?.();
      return;
    }
    const tab = create();
    void details.add(tab);
    shell.add(tab, 'main');
    shell.activateById(tab.id);
  };

  // From a context menu, the row it was opened on says which deployment.
  const deploymentName = (args: {
    name?: unknown;
    fromContextMenu?: unknown;
  }): string | undefined =>
    (args.name as string | undefined) ??
    (args.fromContextMenu ? hitData(app, 'deploymentName') : undefined);

  const findDeployment = (args: {
    name?: unknown;
    fromContextMenu?: unknown;
  }): Deployment | undefined => {
    const name = deploymentName(args);
    return model.deployments.find(d => d.name === name);
  };

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
      const { createDetailPanel, detailId } = await import('./widgets/detail');
      showTab(detailId(name), () =>
        createDetailPanel({
          name,
          model,
          trans,
          onDeploy: (m, version) =>
            void commands.execute(CommandIDs.deploy, {
              model: m.name,
              version: version.version
            })
        })
      );
    }
  });

  commands.addCommand(CommandIDs.insertCode, {
    label: trans.__('Insert code calling the deployment'),
    caption: trans.__(
      'Add a cell below the active cell that scores the deployment'
    ),
    describedBy: { args: DEPLOYMENT_ARGS },
    execute: async args => {
      const deployment = findDeployment(args);
      if (!deployment) {
        return;
      }
      const panel = notebooks?.currentWidget;
      if (!panel) {
        Notification.warning(
          trans.__(
            'Open a notebook to insert code calling %1.',
            deployment.name
          ),
          { autoClose: 8000 }
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
  });

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
        createMonitoringPanel({
          name,
          model,
          trans,
          onGovernance: () =>
            void commands.execute(CommandIDs.governance, { name })
        })
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
        createGovernancePanel({
          name,
          trans,
          rendermime: context.rendermime
        })
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
}

/**
 * Context menus on the sidebar's rows (the row's data attributes say which
 * model or deployment) and the palette entries, under the "MLOps" category.
 */
export function addMenus(
  app: JupyterFrontEnd,
  palette: ICommandPalette | null
): void {
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
          'No models yet. In a notebook, run %load_ext jupyter_mlops then %register model --name churn'
        ),
        { autoClose: 10000 }
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
      notifyError(
        reason instanceof Error
          ? reasonText(reason)
          : trans.__('Model %1 is not registered.', name)
      );
      return null;
    }
  }
  const chosen = version ?? registered.versions[0]?.version;
  if (!chosen || !registered.versions.some(v => v.version === chosen)) {
    notifyError(trans.__('Model %1 has no version %2.', name, chosen ?? '?'));
    return null;
  }
  return { model: registered, version: chosen };
}
