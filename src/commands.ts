/**
 * The commands of the extension, in one place.
 */
export namespace CommandIDs {
  /** Open the MLOps sidebar. */
  export const open = 'mlops:open';
  /** Fetch models and deployments now. */
  export const refresh = 'mlops:refresh';
  /** Deploy a model version; args `{model?: string, version?: string}`. */
  export const deploy = 'mlops:deploy';
}
