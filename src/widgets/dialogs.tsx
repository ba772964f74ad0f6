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
import {
  DEFAULT_CANARY,
  DeployForm,
  DeployFormValue,
  ServingLimit
} from '../components/DeployForm';
import { validateSettings } from '../components/SettingsEditor';
import { DeployProgress } from '../components/DeployProgress';
import { MLOpsModel } from '../model';
import { offerApproval } from '../approvalOffer';
import { INotifyAction, notifyError, reasonText } from '../notify';
import { MLOpsRequestError } from '../request';
import { isValidDeploymentName, toDeploymentName } from '../utils';

/**
 * The deploy form as a dialog body: `getValue` returns what the user chose.
 */
export class DeployFormWidget
  extends ReactWidget
  implements Dialog.IBodyWidget<DeployFormValue>
{
  constructor(private _props: Omit<DeployForm.IProps, 'onChange'>) {
    super();
    this._value = _props.initial;
    this.addClass('jp-MLOps-deploy-dialog');
  }

  getValue(): DeployFormValue {
    return this._value;
  }

  protected render(): React.ReactElement {
    return (
      <DeployForm {...this._props} onChange={value => (this._value = value)} />
    );
  }

  private _value: DeployFormValue;
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
  let value: DeployFormValue = {
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
        // Deployments of this model first: the usual target of a canary.
        deployments: [...model.deployments]
          .sort(
            (a, b) =>
              Number(b.model_name === options.modelName) -
              Number(a.model_name === options.modelName)
          )
          .map(d => d.name),
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
    const rollout = value.rollout ?? 'new';
    const canary = value.canary ?? DEFAULT_CANARY;
    if (
      rollout === 'canary' &&
      !(Number.isInteger(canary) && canary > 0 && canary < 100)
    ) {
      error = trans.__(
        'The canary share must be a whole number from 1 to 99 (got %1).',
        String(value.canary)
      );
      continue;
    }
    if (!isValidDeploymentName(value.name)) {
      error = trans.__(
        '"%1" is not a valid deployment name: try "%2".',
        value.name,
        toDeploymentName(value.name)
      );
      continue;
    }
    const limits = rollout === 'new' ? limitsOf(value, trans) : {};
    if (typeof limits === 'string') {
      error = limits;
      continue;
    }
    try {
      const spec: DeploymentSpec = {
        model: value.model,
        name: value.name,
        target: value.target.trim() || options.defaultTarget
      };
      // A canary or shadow joins its deployment on that deployment's target.
      const onto = model.deployments.find(d => d.name === value.name);
      if (rollout !== 'new' && onto) {
        spec.target = onto.target;
      }
      if (rollout === 'canary') {
        spec.canary = canary;
      } else if (rollout === 'shadow') {
        spec.shadow = true;
      } else {
        if (value.isolated) {
          spec.isolated = true;
        }
        Object.assign(spec, limits);
      }
      const deployment = await model.deploy(spec);
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
 * The serving limits typed in the deploy form as numbers (blank: the server's
 * default), or why one cannot be sent.
 */
export function limitsOf(
  value: DeployFormValue,
  trans: TranslationBundle
): Partial<Record<ServingLimit, number>> | string {
  const typed = Object.fromEntries(
    Object.entries(value.limits ?? {}).filter(([, v]) => (v ?? '').trim())
  ) as Record<string, string>;
  const problems = validateSettings(typed, trans);
  const [field] = Object.keys(problems);
  if (field) {
    return trans.__('%1: %2', field, problems[field]);
  }
  return Object.fromEntries(
    Object.entries(typed).map(([k, v]) => [k, Number(v.trim())])
  );
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
    notifyError(
      trans.__(
        'Could not stop deployment %1: %2',
        deployment.name,
        reasonText(reason)
      ),
      [
        {
          label: trans.__('Try again'),
          callback: () => void stopWithConfirmation(model, deployment, trans)
        }
      ]
    );
    return false;
  }
}

/**
 * Confirm, then promote a deployment's canary (or shadow) to primary.
 */
export async function promoteWithConfirmation(
  model: MLOpsModel,
  deployment: Deployment,
  trans: TranslationBundle,
  actions: INotifyAction[] = []
): Promise<boolean> {
  const staged = deployment.variants.find(v => v.role !== 'primary');
  const result = await showDialog({
    title: trans.__('Promote in %1?', deployment.name),
    body: staged
      ? trans.__(
          'Version %1 of %2 takes all the traffic; the current primary is kept for a rollback.',
          staged.model_version,
          staged.model_name
        )
      : trans.__('There is no canary or shadow to promote.'),
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.okButton({ label: trans.__('Promote') })
    ]
  });
  if (!result.button.accept) {
    return false;
  }
  return report(
    () => model.promote(deployment.name),
    trans.__('Promoted in %1.', deployment.name),
    trans.__('Could not promote in %1', deployment.name),
    trans,
    actions
  );
}

/**
 * Confirm, then roll a deployment back: drop its canary, or return to the
 * previous primary.
 */
export async function rollbackWithConfirmation(
  model: MLOpsModel,
  deployment: Deployment,
  trans: TranslationBundle,
  actions: INotifyAction[] = []
): Promise<boolean> {
  const staged = deployment.variants.some(v => v.role !== 'primary');
  const result = await showDialog({
    title: trans.__('Roll back %1?', deployment.name),
    body: staged
      ? trans.__(
          'The canary or shadow is removed; the primary takes all the traffic.'
        )
      : trans.__(
          'The deployment returns to the primary it had before the last promotion or update.'
        ),
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.warnButton({ label: trans.__('Roll back') })
    ]
  });
  if (!result.button.accept) {
    return false;
  }
  return report(
    () => model.rollback(deployment.name),
    trans.__('Rolled back %1.', deployment.name),
    trans.__('Could not roll back %1', deployment.name),
    trans,
    actions
  );
}

/**
 * Run a change: a success toast that closes itself, or a failure that stays
 * on screen until dismissed, with the actions that would help.
 */
async function report(
  action: () => Promise<unknown>,
  success: string,
  failure: string,
  trans: TranslationBundle,
  actions: INotifyAction[]
): Promise<boolean> {
  try {
    await action();
    Notification.success(success, { autoClose: 5000 });
    return true;
  } catch (reason) {
    if (!offerApproval(reason, trans)) {
      notifyError(`${failure}: ${reasonText(reason)}`, actions);
    }
    return false;
  }
}
