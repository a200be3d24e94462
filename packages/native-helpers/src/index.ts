// @arbor/native-helpers: starting native/ helpers and talking to the processes they
// supervise; shared by the linux and runc backends.
export { DEFAULT_HELPERS_DIR, HELPER_EXIT, HelperError, HelperRunner } from './run-helper';
export type { HelperName } from './run-helper';
export { ProcessChannel } from './process-channel';
