import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  InputDialog,
  Notification
} from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';
import { refreshIcon } from '@jupyterlab/ui-components';
import { RegisteredModel } from './api';
import { CommandIDs } from './commands';
import { mlopsIcon } from './icons';
import { MLOpsModel } from './model';
// The sidebar tab must exist as soon as the application starts.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { MLOpsSidePanel } from './widgets/MLOpsSidePanel';

export { CommandIDs } from './commands';
export { MLOpsModel } from './model';

const PLUGIN_ID = 'jupyter_mlops:plugin';
const CATEGORY = 'MLOps';

const NO_ARGS = { type: 'object', properties: {} };
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
  optional: [ILayoutRestorer, ISettingRegistry, ITranslator, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null,
    palette: ICommandPalette | null
  ): void => {
    translator = translator ?? nullTranslator;
    const trans = translator.load('jupyter_mlops');
    const { commands, shell } = app;
    let defaultTarget = 'local';

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
            defaultTarget =
              (settings.get('defaultTarget').composite as string) || 'local';
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
          args.model as string | undefined,
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

    if (palette) {
      for (const command of [
        CommandIDs.open,
        CommandIDs.refresh,
        CommandIDs.deploy
      ]) {
        palette.addItem({ command, category: CATEGORY });
      }
    }
  }
};

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
  const registered = model.models.find(m => m.name === name);
  if (!registered) {
    Notification.error(
      trans.__('Model %1 is not registered (or not loaded yet).', name)
    );
    return null;
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
