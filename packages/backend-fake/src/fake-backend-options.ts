/** FakeBackendOptions configure the fake backend; every field has a default. */
export interface FakeBackendOptions {
  /** networkPool is the CIDR containers get a /30 from when they ask for none; default '10.254.0.0/22'. */
  networkPool: string;
  /** portPoolStart is the first host port NetIn hands out; default 61001. */
  portPoolStart: number;
  /** portPoolSize is how many host ports NetIn hands out; default 4534. */
  portPoolSize: number;
  /** externalIp is the host address reported for every container; default '127.0.0.1'. */
  externalIp: string;
  /** maxContainers is the capacity reported (and enforced); default 1024. */
  maxContainers: number;
  /** stopTimeoutMs is how long Stop waits after TERM before KILL; default 10000. */
  stopTimeoutMs: number;
}

export const DEFAULT_FAKE_BACKEND_OPTIONS: Readonly<FakeBackendOptions> = {
  networkPool: '10.254.0.0/22',
  portPoolStart: 61001,
  portPoolSize: 4534,
  externalIp: '127.0.0.1',
  maxContainers: 1024,
  stopTimeoutMs: 10_000,
};

/**
 * resolveFakeBackendOptions fills in defaults; it reads only the known fields, so a larger
 * config object (the server's) may be passed as is.
 */
export function resolveFakeBackendOptions(given: Partial<FakeBackendOptions> | undefined): FakeBackendOptions {
  const options = { ...DEFAULT_FAKE_BACKEND_OPTIONS };
  for (const key of Object.keys(DEFAULT_FAKE_BACKEND_OPTIONS) as Array<keyof FakeBackendOptions>) {
    const value = given?.[key];
    // 0 containers means 'the backend decides' in the server's config: keep the default
    if (value === undefined || (key === 'maxContainers' && value === 0)) continue;
    (options as Record<string, unknown>)[key] = value;
  }
  return options;
}
