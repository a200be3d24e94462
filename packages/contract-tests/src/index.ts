// @arbor/contract-tests: the one Garden API contract suite, run against every backend.
export { describeBackendContract } from './describe-backend-contract';
export type { BackendCapabilities, BackendOverrides, ContractConnection, ContractServer, ContractSetup } from './contract-setup';
export { MAIN_OVERRIDES } from './contract-context';
export { startArbordContractServer } from './arbord-contract-server';
