import { TranslationBundle } from '@jupyterlab/translation';

import { LIMITS } from './patterns';

const OBS_FOLDER = LIMITS.ObsFolderUri;
const MOUNT_PATH = LIMITS.MountPath;
const IMAGE = LIMITS.ImageRequest.properties;
const JOB = LIMITS.JobSpec.properties;

/**
 * Check an OBS folder URI as typed.
 *
 * @param uri The value
 * @param trans The translation bundle
 * @returns The problem, or null when it is valid
 */
export function checkObsUri(
  uri: string,
  trans: TranslationBundle
): string | null {
  if (!uri) {
    return trans.__('Enter an OBS folder, for example obs://bucket/path/');
  }
  if (!uri.startsWith('obs://')) {
    return trans.__('Must start with obs://');
  }
  if (uri.length > OBS_FOLDER.maxLength) {
    return trans.__('At most %1 characters', OBS_FOLDER.maxLength);
  }
  const rest = uri.slice('obs://'.length);
  const bucket = rest.split('/')[0];
  if (
    !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) ||
    /\.\./.test(bucket)
  ) {
    return trans.__('The bucket is 3-63 lowercase letters, digits, - or .');
  }
  if (!rest.includes('/') || rest.slice(bucket.length + 1) === '') {
    return trans.__('Name a folder inside the bucket, not the bucket root');
  }
  if (!uri.endsWith('/')) {
    return trans.__('A folder ends with /');
  }
  if (!OBS_FOLDER.pattern.test(uri)) {
    return trans.__(
      'No empty, . or .. segments, backslashes or control characters'
    );
  }
  return null;
}

/**
 * Check a mount path as typed.
 *
 * @param path The value
 * @param trans The translation bundle
 * @returns The problem, or null when it is valid
 */
export function checkMountPath(
  path: string,
  trans: TranslationBundle
): string | null {
  if (!path) {
    return trans.__('Enter where to mount, for example /data/name/');
  }
  if (!path.startsWith('/data/') || path === '/data/') {
    return trans.__('Must be a folder under /data/');
  }
  if (path.length > MOUNT_PATH.maxLength) {
    return trans.__('At most %1 characters', MOUNT_PATH.maxLength);
  }
  if (!path.endsWith('/')) {
    return trans.__('A folder ends with /');
  }
  if (!MOUNT_PATH.pattern.test(path)) {
    return trans.__(
      'No empty, . or .. segments, backslashes or control characters'
    );
  }
  return null;
}

/**
 * Suggest a mount path for an OBS folder: `/data/<last segment>/`.
 *
 * @param uri The OBS folder
 * @returns The suggestion, or an empty string
 */
export function suggestMountPath(uri: string): string {
  const segments = uri
    .replace(/^obs:\/\//, '')
    .split('/')
    .filter(s => s && s !== '.' && s !== '..');
  return segments.length > 1 ? `/data/${segments[segments.length - 1]}/` : '';
}

/**
 * Check the fields of an image save.
 *
 * @param values Name, tag and namespace as typed
 * @param trans The translation bundle
 * @returns A problem per field; empty when all are valid
 */
export function checkImage(
  values: { name: string; tag: string; namespace: string },
  trans: TranslationBundle
): Record<string, string> {
  const problems: Record<string, string> = {};
  if (!values.name) {
    problems.name = trans.__('Enter a name');
  } else if (
    values.name.length > IMAGE.name.maxLength ||
    !IMAGE.name.pattern.test(values.name)
  ) {
    problems.name = trans.__(
      'Lowercase letters, digits, -, _ or ., starting and ending with a letter or digit'
    );
  }
  if (
    values.tag &&
    (values.tag.length > IMAGE.tag.maxLength ||
      !IMAGE.tag.pattern.test(values.tag))
  ) {
    problems.tag = trans.__('Letters, digits, -, _ or .');
  }
  if (
    values.namespace.length > IMAGE.namespace.maxLength ||
    !IMAGE.namespace.pattern.test(values.namespace)
  ) {
    problems.namespace = trans.__(
      'Starts with a lowercase letter; letters, digits, -, _ or .'
    );
  }
  return problems;
}

/**
 * Check a job name.
 *
 * @param name The value
 * @param trans The translation bundle
 * @returns The problem, or null when it is valid
 */
export function checkJobName(
  name: string,
  trans: TranslationBundle
): string | null {
  return JOB.name.pattern.test(name)
    ? null
    : trans.__('1-64 letters, digits, - or _');
}

/**
 * Parse job parameters written one per line as `name=value` (a leading `--` is allowed).
 *
 * @param text The text
 * @param trans The translation bundle
 * @returns The parameters, or the problem
 */
export function parseParameters(
  text: string,
  trans: TranslationBundle
): { parameters: Record<string, string> } | { error: string } {
  const parameters: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) {
      continue;
    }
    const eq = line.indexOf('=');
    const name = (eq < 0 ? line : line.slice(0, eq)).replace(/^--/, '').trim();
    if (eq < 0 || !JOB.parameters.propertyNames.pattern.test(name)) {
      return {
        error: trans.__('Write one name=value per line: %1', line)
      };
    }
    parameters[name] = line.slice(eq + 1).trim();
  }
  return { parameters };
}
