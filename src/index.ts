import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';
// The commands exist as soon as the application starts (menus, palette).
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { addCommands, addMenus } from './commandsAndMenu';
import { MLOpsModel } from './model';
import { notifyError } from './notify';
import { CommandIDs, IMLOpsModel } from './tokens';
// The sidebar tab must exist as soon as the application starts.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { MLOpsSidePanel } from './widgets/MLOpsSidePanel';

export { CommandIDs, IMLOpsModel } from './tokens';
export { MLOpsModel } from './model';

const PLUGIN_ID = 'jupyter_mlops:plugin';

/**
 * The MLOps model (models, deployments, health, alerts), provided to the
 * sidebar and to any other extension through the `IMLOpsModel` token.
 */
const modelPlugin: JupyterFrontEndPlugin<IMLOpsModel> = {
  id: 'jupyter_mlops:model',
  description: 'The MLOps model: registered models and deployments.',
  autoStart: true,
  provides: IMLOpsModel,
  activate: (): IMLOpsModel => new MLOpsModel()
};

/**
 * The MLOps sidebar, its commands, menus and palette entries, the version
 * handshake with the server and the alert notifications.
 */
const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Register, deploy and monitor ML models from JupyterLab, with MLflow as the system of record.',
  autoStart: true,
  requires: [IMLOpsModel],
  optional: [
    ILayoutRestorer,
    ISettingRegistry,
    ITranslator,
    ICommandPalette,
    INotebookTracker,
    IRenderMimeRegistry
  ],
  activate: (
    app: JupyterFrontEnd,
    model: IMLOpsModel,
    restorer: ILayoutRestorer | null,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null,
    palette: ICommandPalette | null,
    notebooks: INotebookTracker | null,
    rendermime: IRenderMimeRegistry | null
  ): void => {
    translator = translator ?? nullTranslator;
    const trans = translator.load('jupyter_mlops');
    const { commands, shell } = app;
    const target = new DefaultTarget(model);

    const panel = new MLOpsSidePanel({ model, commands, translator });
    shell.add(panel, 'left', { rank: 700 });
    restorer?.add(panel, panel.id);

    addCommands({
      app,
      model,
      panelId: panel.id,
      trans,
      notebooks,
      rendermime,
      defaultTarget: () => target.value
    });
    addMenus(app, palette);
    notifyFromModel(app, model, trans);

    void app.restored
      .then(() => model.loadUIConfig())
      .then(() => target.update());
    settingRegistry
      ?.load(PLUGIN_ID)
      .then(settings => {
        const apply = () => {
          const seconds = settings.get('refreshInterval').composite as number;
          model.refreshInterval = Math.max(1, seconds) * 1000;
          target.setting = settings.get('defaultTarget');
        };
        apply();
        settings.changed.connect(apply);
      })
      .catch(reason =>
        notifyError(
          trans.__('Could not load the MLOps settings: %1', String(reason))
        )
      );
  }
};

/**
 * The target of a new deployment: the user's setting when they chose one,
 * else the server's default, else "local".
 */
class DefaultTarget {
  constructor(private _model: MLOpsModel) {}

  value = 'local';

  set setting(chosen: { user?: unknown; composite: unknown }) {
    this._user =
      chosen.user !== undefined ? (chosen.composite as string) || null : null;
    this._composite = (chosen.composite as string) || 'local';
    this.update();
  }

  update(): void {
    this.value =
      this._user ??
      this._model.uiConfig?.default_target ??
      this._composite ??
      'local';
  }

  private _user: string | null = null;
  private _composite: string | null = null;
}

/**
 * Report what the model finds: a failing refresh (once the server is known to
 * be there: a missing server extension is explained by the handshake) and each
 * alert that fires while JupyterLab runs.
 */
function notifyFromModel(
  app: JupyterFrontEnd,
  model: MLOpsModel,
  trans: TranslationBundle
): void {
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
        {
          autoClose: 15000,
          actions: [
            {
              label: trans.__('Retry'),
              callback: () => void model.refresh()
            }
          ]
        }
      );
    }
  });
  model.alertFired.connect((_, alert) => {
    Notification.warning(
      trans.__('MLOps alert on %1: %2', alert.deployment ?? '?', alert.message),
      {
        autoClose: false,
        actions: alert.deployment
          ? [
              {
                label: trans.__('Open monitoring'),
                callback: () =>
                  void app.commands.execute(CommandIDs.monitor, {
                    name: alert.deployment as string
                  })
              }
            ]
          : []
      }
    );
  });
}

export default [modelPlugin, plugin];
