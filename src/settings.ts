import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { TranslationBundle } from '@jupyterlab/translation';
import { MLOpsModel } from './model';
import { notifyError } from './notify';

/**
 * The target of a new deployment: the user's setting when they chose one,
 * else the server's default, else "local".
 */
export class DefaultTarget {
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
 * Apply the user's settings (refresh interval, default target) now and
 * whenever they change.
 */
export function followSettings(
  registry: ISettingRegistry,
  pluginId: string,
  model: MLOpsModel,
  target: DefaultTarget,
  trans: TranslationBundle
): void {
  registry
    .load(pluginId)
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
