// @arbor/garden-http: Garden's HTTP wire protocol (the one Garden's Go client, Concourse and
// Diego speak) served over the same Client/Backend as arbord's gRPC API.
export { GardenHttpServer } from './garden-http-server';
export type { GardenHttpOptions } from './garden-http-server';
export { GardenListenError, listenGarden } from './listen-garden';
export type { GardenListenTarget, GardenListener, GardenTls } from './listen-garden';
export { toGardenError } from './garden-error';
export type { GardenErrorBody } from './garden-error';
export { containerSpecFromGarden, processSpecFromGarden } from './garden-json';
// both of arbord's fronts (gRPC and Garden's HTTP) listen on unix sockets bound this way
export { bindPrivateUnixSocket } from './private-unix-socket';
