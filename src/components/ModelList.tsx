import { Time } from '@jupyterlab/coreutils';
import { formatTime } from '../utils';
import { TranslationBundle } from '@jupyterlab/translation';
import React, { useState } from 'react';
import { ModelVersion, RegisteredModel } from '../api';

/** Versions shown per model before "Show all". */
export const VERSIONS_SHOWN = 3;

export namespace ModelList {
  export interface IProps {
    models: RegisteredModel[];
    onDeploy: (model: RegisteredModel, version: ModelVersion) => void;
    /** Open the model's detail; the name is a plain label without it. */
    onOpen?: (model: RegisteredModel) => void;
    trans: TranslationBundle;
  }
}

/**
 * Registered models, each with its aliases and versions (newest first) and a
 * Deploy button per version.
 */
export function ModelList(props: ModelList.IProps): React.ReactElement {
  return (
    <ul className="jp-MLOps-list" aria-label={props.trans.__('Models')}>
      {props.models.map(model => (
        <ModelItem
          key={model.name}
          model={model}
          onDeploy={props.onDeploy}
          onOpen={props.onOpen}
          trans={props.trans}
        />
      ))}
    </ul>
  );
}

function ModelItem(props: {
  model: RegisteredModel;
  onDeploy: ModelList.IProps['onDeploy'];
  onOpen?: ModelList.IProps['onOpen'];
  trans: TranslationBundle;
}): React.ReactElement {
  const { model, trans, onOpen } = props;
  const [expanded, setExpanded] = useState(false);
  const versions = expanded
    ? model.versions
    : model.versions.slice(0, VERSIONS_SHOWN);
  return (
    <li className="jp-MLOps-model" data-model-name={model.name}>
      <div className="jp-MLOps-row">
        {onOpen ? (
          <button
            type="button"
            className="jp-MLOps-name jp-MLOps-link"
            title={trans.__('Open the details of %1', model.name)}
            onClick={() => onOpen(model)}
          >
            {model.name}
          </button>
        ) : (
          <span className="jp-MLOps-name" title={model.name}>
            {model.name}
          </span>
        )}
        <Aliases aliases={Object.keys(model.aliases)} trans={trans} />
      </div>
      {model.description && (
        <p className="jp-MLOps-description">{model.description}</p>
      )}
      {model.versions.length === 0 ? (
        <p className="jp-MLOps-description">
          {trans.__('No versions registered.')}
        </p>
      ) : (
        <ul
          className="jp-MLOps-versions"
          aria-label={trans.__('Versions of %1', model.name)}
        >
          {versions.map(version => (
            <VersionItem
              key={version.version}
              version={version}
              onDeploy={() => props.onDeploy(model, version)}
              trans={trans}
            />
          ))}
        </ul>
      )}
      {model.versions.length > VERSIONS_SHOWN && (
        <button
          type="button"
          className="jp-MLOps-link"
          aria-expanded={expanded}
          onClick={() => setExpanded(!expanded)}
        >
          {expanded
            ? trans.__('Show fewer versions')
            : trans.__('Show all %1 versions', model.versions.length)}
        </button>
      )}
    </li>
  );
}

function VersionItem(props: {
  version: ModelVersion;
  onDeploy: () => void;
  trans: TranslationBundle;
}): React.ReactElement {
  const { version, trans } = props;
  const created = version.created_at ? new Date(version.created_at) : null;
  return (
    <li className="jp-MLOps-version" data-version={version.version}>
      <span className="jp-MLOps-version-number">
        {trans.__('v%1', version.version)}
      </span>
      <Aliases aliases={version.aliases} trans={trans} />
      {created && (
        <span className="jp-MLOps-meta" title={formatTime(created)}>
          {Time.formatHuman(created)}
        </span>
      )}
      <button
        type="button"
        className="jp-Button jp-mod-styled jp-mod-accept jp-MLOps-deploy"
        aria-label={trans.__(
          'Deploy version %1 of %2',
          version.version,
          version.name
        )}
        title={trans.__(
          'Deploy version %1 of %2',
          version.version,
          version.name
        )}
        onClick={props.onDeploy}
      >
        {trans.__('Deploy')}
      </button>
    </li>
  );
}

function Aliases(props: {
  aliases: string[];
  trans: TranslationBundle;
}): React.ReactElement | null {
  if (props.aliases.length === 0) {
    return null;
  }
  return (
    <span className="jp-MLOps-aliases" aria-label={props.trans.__('Aliases')}>
      {props.aliases.map(alias => (
        <span key={alias} className="jp-MLOps-alias" data-alias={alias}>
          @{alias}
        </span>
      ))}
    </span>
  );
}
