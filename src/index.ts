import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
// The commands exist as soon as the application starts (menus, palette).
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { addCommands, addMenus } from './commandsAndMenu';
import { MLOpsModel } from './model';
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { notifyFromModel } from './notify';
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { DefaultTarget, followSettings } from './settings';
import { IMLOpsModel } from './tokens';
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
    if (settingRegistry) {
      followSettings(settingRegistry, PLUGIN_ID, model, target, trans);
    }
  }
};

export default [modelPlugin, plugin];
