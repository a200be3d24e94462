/** DEFAULT_ADDRESS is where arbord listens unless configured otherwise. */
export const DEFAULT_ADDRESS = 'unix:///run/arbor/arbord.sock';
