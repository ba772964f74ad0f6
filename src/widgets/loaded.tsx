import { MainAreaWidget, ReactWidget } from '@jupyterlab/apputils';
import { Message } from '@lumino/messaging';
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
      this._errorTitle = null;
    } catch (reason) {
      this._error =
        reason instanceof MLOpsRequestError ? reason.message : String(reason);
      this._errorTitle = failureTitle(reason, this.trans);
    }
    this.update();
  }

  /** A tab shown again reads again: what it showed may be stale or gone. */
  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    if (this._data !== null || this._error !== null) {
      void this.reload();
    }
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
          title={this._errorTitle ?? undefined}
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
  private _errorTitle: string | null = null;
}

/**
 * Name the real cause of a failed read: the thing is gone (404), the request
 * was refused (4xx), the server failed (5xx), or it could not be reached.
 */
export function failureTitle(
  reason: unknown,
  trans: TranslationBundle
): string {
  if (!(reason instanceof MLOpsRequestError)) {
    return trans.__('Could not show this view.');
  }
  const status = reason.status;
  if (status === 404) {
    return trans.__('Not found: it may have been stopped or renamed.');
  }
  if (status === 401 || status === 403) {
    return trans.__('Not allowed to read this.');
  }
  if (status >= 400 && status < 500) {
    return trans.__('The request was refused.');
  }
  if (status >= 500) {
    return trans.__('The MLOps server failed to answer.');
  }
  return trans.__('Cannot reach the Jupyter server.');
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
