import { MainAreaWidget, ReactWidget } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { refreshIcon, ToolbarButton } from '@jupyterlab/ui-components';
import React from 'react';
import { LoadError, Loading } from '../components/EmptyState';
import { mlopsIcon } from '../icons';
import { MLOpsRequestError } from '../request';

/**
 * A main-area view of something read from the server: loads when created and
 * on `reload()`, shows a spinner until the first answer and an error with a
 * retry button when a read fails (keeping nothing stale on screen).
 */
export abstract class LoadedWidget<T> extends ReactWidget {
  constructor(protected readonly trans: TranslationBundle) {
    super();
    this.addClass('jp-MLOps-detail-widget');
  }

  /** What was last read, or null before the first answer. */
  get data(): T | null {
    return this._data;
  }

  /** Read again from the server and redraw. */
  async reload(): Promise<void> {
    try {
      this._data = await this.load();
      this._error = null;
    } catch (reason) {
      this._error =
        reason instanceof MLOpsRequestError ? reason.message : String(reason);
    }
    this.update();
  }

  /** One read of everything the view shows. */
  protected abstract load(): Promise<T>;

  /** The view of a successful read. */
  protected abstract renderLoaded(data: T): React.ReactElement;

  protected render(): React.ReactElement {
    if (this._error) {
      return (
        <LoadError
          message={this._error}
          onRetry={() => void this.reload()}
          trans={this.trans}
        />
      );
    }
    if (this._data === null) {
      return <Loading trans={this.trans} />;
    }
    return this.renderLoaded(this._data);
  }

  private _data: T | null = null;
  private _error: string | null = null;
}

/** A loaded view in a closable main-area tab with a refresh button. */
export function createLoadedPanel<W extends LoadedWidget<unknown>>(
  content: W,
  options: { id: string; label: string; refreshTooltip: string }
): MainAreaWidget<W> {
  const panel = new MainAreaWidget({ content });
  panel.id = options.id;
  panel.title.label = options.label;
  panel.title.icon = mlopsIcon;
  panel.title.closable = true;
  panel.toolbar.addItem(
    'refresh',
    new ToolbarButton({
      icon: refreshIcon,
      tooltip: options.refreshTooltip,
      onClick: () => void content.reload()
    })
  );
  return panel;
}
