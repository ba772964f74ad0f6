/**
 * The version of this frontend package. Kept equal to package.json's
 * `version` (a test checks it), which is also the Python package version.
 */
export const FRONTEND_VERSION = '0.1.0';
