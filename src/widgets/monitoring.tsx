import { MainAreaWidget } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import React from 'react';
import { MonitoringReport, RolloutEvent } from '../api';
import { MonitoringView } from '../components/Monitoring';
import { MLOpsModel } from '../model';
import { createLoadedPanel, LoadedWidget } from './loaded';

/** What the monitoring view reads at once. */
interface IMonitoringData {
  report: MonitoringReport;
  events: RolloutEvent[];
}

/**
 * A deployment's monitoring report and rollout history, read when opened,
 * when the window changes and on refresh; charts redraw when the theme
 * changes (JupyterLab marks the theme on `body`).
 */
export class MonitoringWidget extends LoadedWidget<IMonitoringData> {
  constructor(private _options: MonitoringWidget.IOptions) {
    super(_options.trans);
    this._themeObserver = new MutationObserver(() => {
      this._themeKey = document.body.dataset.jpThemeName ?? '';
      this.update();
    });
    this._themeObserver.observe(document.body, {
      attributes: true,
      attributeFilter: ['data-jp-theme-name', 'data-jp-theme-light']
    });
    void this.reload();
  }

  get report(): MonitoringReport | null {
    return this.data?.report ?? null;
  }

  dispose(): void {
    this._themeObserver.disconnect();
    super.dispose();
  }

  protected async load(): Promise<IMonitoringData> {
    const { model, name } = this._options;
    const [report, events] = await Promise.all([
      model.monitoring(name, this._window),
      model.events(name).catch(() => [] as RolloutEvent[])
    ]);
    return { report, events };
  }

  protected renderLoaded(data: IMonitoringData): React.ReactElement {
    return (
      <MonitoringView
        report={data.report}
        events={data.events}
        window={this._window}
        onGovernance={this._options.onGovernance}
        onWindow={window => {
          this._window = window;
          void this.reload();
        }}
        themeKey={this._themeKey}
        trans={this.trans}
      />
    );
  }

  private _window = '1h';
  private _themeKey = document.body.dataset.jpThemeName ?? '';
  private _themeObserver: MutationObserver;
}

export namespace MonitoringWidget {
  export interface IOptions {
    name: string;
    model: MLOpsModel;
    trans: TranslationBundle;
    /** Open the deployment's governance view (a button in the header). */
    onGovernance?: () => void;
  }
}

export function monitoringId(name: string): string {
  return `jp-mlops-monitoring-${name}`;
}

/**
 * A deployment's monitoring in a main-area tab with a refresh button.
 */
export function createMonitoringPanel(
  options: MonitoringWidget.IOptions
): MainAreaWidget<MonitoringWidget> {
  return createLoadedPanel(new MonitoringWidget(options), {
    id: monitoringId(options.name),
    label: options.trans.__('Monitoring: %1', options.name),
    refreshTooltip: options.trans.__('Read the monitoring again')
  });
}
