import { GardenService, ProcessOutput, StreamOutResponse } from '@arbor/proto';
import { encodeBytesField, withDirectBytesEncoding } from './bytes-response-encoding';

/** bytesOf is n bytes that are not all alike, so a shifted or dropped byte shows. */
function bytesOf(n: number): Buffer {
  const bytes = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) bytes[i] = (i * 131 + 7) & 0xff;
  return bytes;
}

const generated = (message: ProcessOutput): Buffer => Buffer.from(ProcessOutput.encode(message).finish());

describe('encodeBytesField', () => {
  // the varint length takes 1, 2, 3 and 4 bytes across these sizes
  it.each([0, 1, 127, 128, 16_383, 16_384, 65_536, 2_097_152])('writes %i bytes of stdout exactly as the generated encoder', (n) => {
    const value = bytesOf(n);
    const encoded = encodeBytesField(2, value);
    expect(encoded.equals(generated({ output: { $case: 'stdout', value } }))).toBe(true);
    const decoded = ProcessOutput.decode(encoded).output;
    expect(decoded?.$case).toBe('stdout');
    expect(Buffer.from(decoded?.value as Uint8Array).equals(value)).toBe(true);
  });
});

describe('withDirectBytesEncoding', () => {
  const definition = withDirectBytesEncoding(GardenService);

  const outputs: Array<[string, ProcessOutput]> = [
    ['started', { output: { $case: 'started', value: 'proc-1' } }],
    ['stdout', { output: { $case: 'stdout', value: bytesOf(70_000) } }],
    ['stderr', { output: { $case: 'stderr', value: bytesOf(3) } }],
    ['empty stderr', { output: { $case: 'stderr', value: Buffer.alloc(0) } }],
    ['exitStatus', { output: { $case: 'exitStatus', value: 137 } }],
  ];
  it.each(outputs)('encodes Run and Attach output (%s) as the generated encoder does', (_name, message) => {
    expect(definition.run.responseSerialize(message).equals(generated(message))).toBe(true);
    expect(definition.attach.responseSerialize(message).equals(generated(message))).toBe(true);
  });

  it.each([0, 5, 65_536])('encodes a StreamOut message of %i tar bytes as the generated encoder does', (n) => {
    const message = { tar: bytesOf(n) };
    expect(definition.streamOut.responseSerialize(message).equals(Buffer.from(StreamOutResponse.encode(message).finish()))).toBe(true);
  });

  it('leaves the other methods and every request decoder as they were', () => {
    expect(definition.create).toBe(GardenService.create);
    expect(definition.run.requestDeserialize).toBe(GardenService.run.requestDeserialize);
    expect(definition.streamOut.path).toBe('/arbor.v1.Garden/StreamOut');
  });
});
