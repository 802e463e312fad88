// Issue 18's goals, each computed from the same run's rows: the measured value, the target, the peer or
// bound it is compared with, the ratio, and whether it is met. Printed as one table and kept in the JSON.
const find = (rows, scenario, pred = () => true) => rows.find((r) => r.scenario === scenario && pred(r));
const round = (x, d = 2) => (x === undefined || Number.isNaN(x) ? undefined : +x.toFixed(d));

export function goals(rows) {
  const out = [];
  const add = (goal, value, target, met, extra = {}) => out.push({ goal, value, target, met: value === undefined ? 'not measured' : met ? 'met' : 'not met', ...extra });
  const fan = (system, subs, mode) => find(rows, 'fanout', (r) => r.system === system && r.subs === subs && r.mode === mode);

  for (const subs of [1000, 5000]) {
    const rc = fan('relaycast', subs, 'max')?.deliveredPerSec;
    const b = fan('bound', subs, 'max')?.deliveredPerSec;
    const ratio = rc && b ? rc / b : undefined;
    add(`fan-out max rate, ${subs} subs, vs bound (ev/s)`, rc, '>= 0.9x bound', ratio >= 0.9, { peer: b, ratio: round(ratio) });
    const n = fan('nchan', subs, 'max')?.deliveredPerSec;
    if (n) add(`fan-out max rate, ${subs} subs, vs nchan (ev/s)`, rc, '>= nchan', rc >= n, { peer: n, ratio: round(rc / n) });
  }
  const p99 = fan('relaycast', 1000, '50/s')?.p99ms;
  const np99 = fan('nchan', 1000, '50/s')?.p99ms;
  add('p99 at 50 ev/s, 1000 subs, vs nchan (ms)', p99, '<= nchan', np99 !== undefined && p99 <= np99, { peer: np99 ?? 'nchan absent', ratio: round(p99 / np99) });

  const idle = find(rows, 'idle', (r) => r.system === 'relaycast');
  const nidle = find(rows, 'idle', (r) => r.system === 'nchan');
  const kb = idle?.kbPerConnectionWithRedis;
  add('idle memory per SSE stream, edge + Redis (KB)', kb, '<= 3 KB', kb <= 3, { peer: nidle?.kbPerConnection, ratio: round(kb / 3) });
  if (nidle) add('idle memory per SSE stream vs nchan (KB)', kb, '< nchan', kb < nidle.kbPerConnection, { peer: nidle.kbPerConnection, ratio: round(kb / nidle.kbPerConnection) });

  const sub = find(rows, 'subscribe-cost');
  add('edge CPU per subscribe + disconnect (ms)', sub?.edgeCpuMsPerSubscribeDisconnect, '<= 0.2 ms', sub?.edgeCpuMsPerSubscribeDisconnect <= 0.2, { ratio: round(sub?.edgeCpuMsPerSubscribeDisconnect / 0.2) });
  add('Redis round trips per subscribe', sub?.redisRoundTripsPerSubscribe, '<= 1', sub?.redisRoundTripsPerSubscribe <= 1, { ratio: round(sub?.redisRoundTripsPerSubscribe) });

  const st = find(rows, 'resume-storm');
  if (st) {
    add(`reconnect storm, ${st.subscribers} clients (ms)`, st.caughtUpMs, '<= 5000 ms', st.caughtUpMs <= 5000, { ratio: round(st.caughtUpMs / 5000) });
    add(`reconnect storm, ${st.subscribers} clients: lost / duplicated events`, `${st.lost} / ${st.duplicated}`, '0 / 0', st.lost === 0 && st.duplicated === 0);
  } else add('reconnect storm (ms)', undefined, '<= 5000 ms', false);

  const bl = find(rows, 'resume-backlog');
  if (bl) {
    add(`backlog catch-up, ${bl.events} events (ms)`, bl.caughtUpMs, '< 1000 ms', bl.caughtUpMs < 1000 && bl.complete, { ratio: round(bl.caughtUpMs / 1000) });
    add(`backlog catch-up: edge RSS growth (MB)`, round(bl.edgeRssPeakMB - bl.edgeRssStartMB, 1), 'bounded (reported)', true);
  } else add('backlog catch-up (ms)', undefined, '< 1000 ms', false);

  const sc = find(rows, 'scale');
  if (sc) {
    const label = `${sc.subscribers} subscribers on ${sc.edges} edges`;
    add(`${label}: accepted`, sc.accepted, `${sc.subscribers}`, sc.accepted === sc.subscribers, { ratio: round(sc.accepted / sc.subscribers, 3) });
    add(`${label}: every event delivered (lost / dup)`, `${sc.lost} / ${sc.duplicated}`, '0 / 0', sc.lost === 0 && sc.duplicated === 0 && !sc.timedOut);
    add(`${label}: p99 (ms)`, sc.p99ms, '<= 250 ms', sc.p99ms <= 250, { ratio: round(sc.p99ms / 250) });
    add(`${label}: total edge RSS (MB)`, sc.edgeRssTotalMB, '<= 600 MB', sc.edgeRssTotalMB <= 600, { ratio: round(sc.edgeRssTotalMB / 600) });
    add(`${label}: load generator CPU vs edges (%)`, sc.loadGenCpuPct, `< edges' ${sc.edgeCpuPct}%`, sc.loadGenCpuPct < sc.edgeCpuPct, { peer: sc.edgeCpuPct, ratio: round(sc.loadGenCpuPct / sc.edgeCpuPct) });
  } else add('100,000 subscribers (scale)', undefined, 'see issue 18', false);
  return out;
}
