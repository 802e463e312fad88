export type Fault =
  | { kind: 'status'; code: number }
  | { kind: 'drop' | 'stall' | 'malformed' | 'truncate' | 'error'; at: number };

export class FaultSyntaxError extends Error {}

/** `status:<code>`, `drop:<n>`, `stall:<n>`, `malformed:<n>`, `truncate:<n>`, `error:<n>`. */
export function parseFault(spec: string | undefined): Fault | undefined {
  if (spec === undefined) return undefined;
  const m = /^(status|drop|stall|malformed|truncate|error):(\d{1,6})$/.exec(spec);
  if (!m) throw new FaultSyntaxError(`invalid fault ${JSON.stringify(spec)}`);
  const n = Number(m[2]);
  if (m[1] === 'status') {
    if (n < 400 || n > 599) throw new FaultSyntaxError('status fault needs a 4xx or 5xx code');
    return { kind: 'status', code: n };
  }
  return { kind: m[1] as Exclude<Fault['kind'], 'status'>, at: n };
}
