import {
  Dialog,
  Notification,
  ReactWidget,
  showDialog
} from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { UseSignal } from '@jupyterlab/ui-components';
import React from 'react';
import { Deployment, DeploymentSpec } from '../api';
import { DeployForm } from '../components/DeployForm';
import { DeployProgress } from '../components/DeployProgress';
import { MLOpsModel } from '../model';
import { MLOpsRequestError } from '../request';
import { isValidDeploymentName, toDeploymentName } from '../utils';

/**
 * The deploy form as a dialog body: `getValue` returns what the user chose.
 */
export class DeployFormWidget
  extends ReactWidget
  implements Dialog.IBodyWidget<Required<DeploymentSpec>>
{
  constructor(private _props: Omit<DeployForm.IProps, 'onChange'>) {
    super();
    this._value = _props.initial;
    this.addClass('jp-MLOps-deploy-dialog');
  }

  getValue(): Required<DeploymentSpec> {
    return this._value;
  }

  protected render(): React.ReactElement {
    return (
      <DeployForm {...this._props} onChange={value => (this._value = value)} />
    );
  }

  private _value: Required<DeploymentSpec>;
}

/**
 * Live progress of one deployment, for the dialog shown after deploying.
 */
export class DeployProgressWidget extends ReactWidget {
  constructor(
    private _model: MLOpsModel,
    private _name: string,
    private _trans: TranslationBundle
  ) {
    super();
    this.addClass('jp-MLOps-progress-dialog');
  }

  protected render(): React.ReactElement {
    const trans = this._trans;
    return (
      <UseSignal signal={this._model.deploymentsChanged}>
        {() => {
          const deployment = this._model.deployments.find(
            d => d.name === this._name
          );
          if (!deployment) {
            return (
              <p className="jp-MLOps-message">
                {trans.__('Deployment %1 is gone.', this._name)}
              </p>
            );
          }
          return (
            <div
              data-deployment-name={deployment.name}
              data-state={deployment.state}
            >
              <DeployProgress deployment={deployment} trans={trans} />
              {deployment.state === 'ready' && deployment.url && (
                <p className="jp-MLOps-message">
                  {trans.__('Serving at')}{' '}
                  <code className="jp-MLOps-url">{deployment.url}</code>
                </p>
              )}
            </div>
          );
        }}
      </UseSignal>
    );
  }
}

export namespace deployWithDialog {
  export interface IOptions {
    model: MLOpsModel;
    modelName: string;
    version: string;
    aliases: string[];
    defaultTarget: string;
    trans: TranslationBundle;
  }
}

/**
 * Ask for the deployment's name and target, deploy, then show its progress.
 * A refused request (e.g. the name is taken) reopens the form with the
 * server's message.
 *
 * @returns the deployment as accepted, or null when the user cancelled
 */
export async function deployWithDialog(
  options: deployWithDialog.IOptions
): Promise<Deployment | null> {
  const { model, trans } = options;
  let value: Required<DeploymentSpec> = {
    model: `${options.modelName}/${options.version}`,
    name: toDeploymentName(options.modelName),
    target: options.defaultTarget
  };
  let error: string | null = null;
  for (;;) {
    const result = await showDialog({
      title: trans.__(
        'Deploy %1 version %2',
        options.modelName,
        options.version
      ),
      body: new DeployFormWidget({
        modelName: options.modelName,
        version: options.version,
        aliases: options.aliases,
        initial: value,
        error,
        trans
      }),
      buttons: [
        Dialog.cancelButton({ label: trans.__('Cancel') }),
        Dialog.okButton({ label: trans.__('Deploy') })
      ],
      focusNodeSelector: 'input[name="name"]'
    });
    if (!result.button.accept || !result.value) {
      return null;
    }
    value = { ...result.value, name: result.value.name.trim() };
    if (!isValidDeploymentName(value.name)) {
      error = trans.__(
        '"%1" is not a valid deployment name: try "%2".',
        value.name,
        toDeploymentName(value.name)
      );
      continue;
    }
    try {
      const deployment = await model.deploy({
        model: value.model,
        name: value.name,
        target: value.target.trim() || options.defaultTarget
      });
      void showDialog({
        title: trans.__('Deploying %1', deployment.name),
        body: new DeployProgressWidget(model, deployment.name, trans),
        buttons: [Dialog.okButton({ label: trans.__('Close') })]
      });
      return deployment;
    } catch (reason) {
      error =
        reason instanceof MLOpsRequestError ? reason.message : String(reason);
    }
  }
}

/**
 * Confirm, then stop a deployment; failures are reported as notifications.
 *
 * @returns whether the deployment was stopped
 */
export async function stopWithConfirmation(
  model: MLOpsModel,
  deployment: Deployment,
  trans: TranslationBundle
): Promise<boolean> {
  const result = await showDialog({
    title: trans.__('Stop deployment %1?', deployment.name),
    body: trans.__(
      'Its endpoint stops answering and the deployment is removed. The model version stays registered.'
    ),
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.warnButton({ label: trans.__('Stop') })
    ]
  });
  if (!result.button.accept) {
    return false;
  }
  try {
    await model.stopDeployment(deployment.name);
    Notification.success(trans.__('Stopped deployment %1.', deployment.name), {
      autoClose: 3000
    });
    return true;
  } catch (reason) {
    Notification.error(
      trans.__(
        'Could not stop deployment %1: %2',
        deployment.name,
        reason instanceof Error ? reason.message : String(reason)
      )
    );
    return false;
  }
}
