import Dockerode from 'dockerode';

/** localDocker is a client of the engine at DOCKER_HOST or /var/run/docker.sock, for tests of other packages. */
export function localDocker(): Dockerode {
  return new Dockerode();
}
