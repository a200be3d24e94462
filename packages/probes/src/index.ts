// @arbor/probes: the typed probe vocabulary the contract suite asks processes in, rendered as a
// shell command for real backends and read back by the fake (see probe.ts).
export { PROBE_TAG, decodeProbeArgs, decodeProbeScript, probeCommand, probeScript, probeScriptFile } from './probe';
export type { DecodedProbe, ProbeCommand, ProbeStep } from './probe';
export * as steps from './steps';
