import { describeAttachAndSignals } from './areas/describe-attach-and-signals';
import { describeBindMounts } from './areas/describe-bind-mounts';
import { describeBoundedErrors } from './areas/describe-bounded-errors';
import { describeCallerMistakes } from './areas/describe-caller-mistakes';
import { describeCreate } from './areas/describe-create';
import { describePullImage } from './areas/describe-pull-image';
import { describeDestroy } from './areas/describe-destroy';
import { describeEnforcement } from './areas/describe-enforcement';
import { describeErrorCodes } from './areas/describe-error-codes';
import { describeErrorRoundTrip } from './areas/describe-error-round-trip';
import { describeEvents } from './areas/describe-events';
import { describeGraceTime } from './areas/describe-grace-time';
import { describeInfoAndMetrics } from './areas/describe-info-and-metrics';
import { describeIsolation } from './areas/describe-isolation';
import { describeLimits } from './areas/describe-limits';
import { describeListAndLookup } from './areas/describe-list-and-lookup';
import { describeNetworking } from './areas/describe-networking';
import { describePingAndCapacity } from './areas/describe-ping-and-capacity';
import { describeProperties } from './areas/describe-properties';
import { describeRealNetwork } from './areas/describe-real-network';
import { describeRestart } from './areas/describe-restart';
import { describeRun } from './areas/describe-run';
import { describeStop } from './areas/describe-stop';
import { describeStreaming } from './areas/describe-streaming';
import { describeTty } from './areas/describe-tty';
import { ContractContext } from './contract-context';
import { privilegedSetup } from './contract-setup';
import type { BackendCapabilities, ContractSetup } from './contract-setup';

/**
 * describeBackendContract declares the Garden API contract as Jest tests against whatever
 * setup.makeClient returns: a backend in-process or a client talking to a server. One server
 * (started in beforeAll) serves most tests; tests needing other settings start their own.
 * Every test destroys what it created, so tests run in any order. Capabilities only skip tests.
 *
 * @example
 * describeBackendContract('fake (in-process)', { makeClient: async (o) => ... }, {
 *   enforcesLimits: false, realNetwork: false, isolation: false, survivesRestart: false, images: [],
 * });
 */
export function describeBackendContract(name: string, setup: ContractSetup, capabilities: BackendCapabilities): void {
  describe(`backend contract: ${name}`, () => {
    const ctx = new ContractContext(setup);

    beforeAll(() => ctx.start(), 30_000);
    afterEach(() => ctx.cleanup(), 30_000);
    afterAll(() => ctx.close(), 30_000);

    describePingAndCapacity(ctx);
    describeCreate(ctx, capabilities);
    describePullImage(ctx, capabilities);
    describeDestroy(ctx);
    describeListAndLookup(ctx);
    describeInfoAndMetrics(ctx, capabilities);
    describeRun(ctx, capabilities);
    describeAttachAndSignals(ctx);
    describeTty(ctx);
    describeStop(ctx);
    describeStreaming(ctx);
    describeLimits(ctx);
    describeNetworking(ctx);
    describeProperties(ctx);
    describeGraceTime(ctx);
    describeEvents(ctx);
    describeErrorRoundTrip(ctx);
    describeCallerMistakes(ctx);
    describeBindMounts(ctx);
    describeBoundedErrors(ctx);
    describeErrorCodes(ctx, capabilities);
    describeEnforcement(ctx, capabilities);
    describeIsolation(ctx, capabilities);
    describeRealNetwork(ctx, capabilities);
    describeRestart(ctx, capabilities);
  });
}

/**
 * describePrivilegedContract runs the areas where who the container's root is could change an
 * answer with every container created privileged: the real backends' privileged containers
 * keep the host's root and no user namespace, and must keep the same contract. In process
 * (every path below the server): running processes as users and streaming files in and out
 * with their owners; over gRPC (the privileged flag across the wire): streaming, whose files
 * show whose they are.
 */
export function describePrivilegedContract(name: string, setup: ContractSetup, over: 'in-process' | 'grpc'): void {
  describe(`backend contract, privileged containers: ${name}`, () => {
    const ctx = new ContractContext(privilegedSetup(setup));

    beforeAll(() => ctx.start(), 30_000);
    afterEach(() => ctx.cleanup(), 30_000);
    afterAll(() => ctx.close(), 30_000);

    if (over === 'in-process') describeRun(ctx);
    describeStreaming(ctx);
  });
}
