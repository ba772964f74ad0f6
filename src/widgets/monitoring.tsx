import { MainAreaWidget, ReactWidget } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { refreshIcon, ToolbarButton } from '@jupyterlab/ui-components';
import React from 'react';
import { MonitoringReport, RolloutEvent } from '../api';
import { LoadError, Loading } from '../components/EmptyState';
import { MonitoringView } from '../components/Monitoring';
import { mlopsIcon } from '../icons';
import { MLOpsModel } from '../model';
import { MLOpsRequestError } from '../request';

/**
 * A deployment's monitoring report and rollout history, read when opened,
 * when the window changes and on refresh; charts redraw when the theme
 * changes (JupyterLab marks the theme on `body`).
 */
export class MonitoringWidget extends ReactWidget {
  constructor(private _options: MonitoringWidget.IOptions) {
    super();
    this.addClass('jp-MLOps-detail-widget');
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
    return this._report;
  }

  async reload(): Promise<void> {
    const { model, name } = this._options;
    try {
      const [report, events] = await Promise.all([
        model.monitoring(name, this._window),
        model.events(name).catch(() => [] as RolloutEvent[])
      ]);
      this._report = report;
      this._events = events;
      this._error = null;
    } catch (reason) {
      this._error =
        reason instanceof MLOpsRequestError ? reason.message : String(reason);
    }
    this.update();
  }

  dispose(): void {
    this._themeObserver.disconnect();
    super.dispose();
  }

  protected render(): React.ReactElement {
    const { trans } = this._options;
    if (this._error) {
      return (
        <LoadError
          message={this._error}
          onRetry={() => void this.reload()}
          trans={trans}
        />
      );
    }
    if (!this._report) {
      return <Loading trans={trans} />;
    }
    return (
      <MonitoringView
        report={this._report}
        events={this._events}
        window={this._window}
        onWindow={window => {
          this._window = window;
          void this.reload();
        }}
        themeKey={this._themeKey}
        trans={trans}
      />
    );
  }

  private _report: MonitoringReport | null = null;
  private _events: RolloutEvent[] = [];
  private _error: string | null = null;
  private _window = '1h';
  private _themeKey = document.body.dataset.jpThemeName ?? '';
  private _themeObserver: MutationObserver;
}

export namespace MonitoringWidget {
  export interface IOptions {
    name: string;
    model: MLOpsModel;
    trans: TranslationBundle;
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
  const content = new MonitoringWidget(options);
  const panel = new MainAreaWidget({ content });
  panel.id = monitoringId(options.name);
  panel.title.label = options.trans.__('Monitoring: %1', options.name);
  panel.title.icon = mlopsIcon;
  panel.title.closable = true;
  panel.toolbar.addItem(
    'refresh',
    new ToolbarButton({
      icon: refreshIcon,
      tooltip: options.trans.__('Read the monitoring again'),
      onClick: () => void content.reload()
    })
  );
  return panel;
}
