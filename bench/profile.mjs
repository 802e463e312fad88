// node bench/profile.mjs FILE.cpuprofile [--top=25] [--from=SECONDS] [--to=SECONDS] [--by=module]
// A V8 CPU profile (node --cpu-prof, BENCH_PROFILE=edge, or the bench's --profile) as a top-N self-time table
// in Markdown. --from/--to keep only the samples in that window (seconds from the profile's start), so a
// scenario's busy phase is not diluted by its set-up. --by=module charges each sample to the innermost
// module of ours (services/x/…/file) or library (node_modules/name) on its stack instead of its function.
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--'));
if (!file) {
  console.error('usage: node bench/profile.mjs FILE.cpuprofile [--top=25] [--from=s] [--to=s]');
  process.exit(2);
}
const opt = (name, dflt) => Number(args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt);
const top = opt('top', 25);
const from = opt('from', 0) * 1e6;
const to = opt('to', Infinity) * 1e6;

const prof = JSON.parse(readFileSync(file, 'utf8'));
// A gap between samples far longer than the sampling interval is time the process was not running (the
// machine's cores were busy elsewhere): charging it to the next sample would inflate whatever ran then.
// Each sample is charged at most a few intervals; the rest is reported as "not running".
const sorted = [...prof.timeDeltas].sort((a, b) => a - b);
const interval = sorted[Math.floor(sorted.length / 2)] || 1000;
const cap = 4 * interval;
let offCpu = 0;
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const byModule = args.includes('--by=module');
function moduleOf(id) {
  for (let x = id; x !== undefined; x = parent.get(x)) {
    const url = byId.get(x).callFrame.url;
    const lib = /node_modules\/(@[\w.-]+\/[\w.-]+|[\w.-]+)/.exec(url);
    if (lib) return lib[1];
    const ours = /\/(services|packages)\/([\w-]+)\/.*\/([\w.-]+)\.js$/.exec(url);
    if (ours) return `${ours[2]}/${ours[3]}`;
  }
  return 'node internals (no frame of ours or a library)';
}
const self = new Map();
let t = prof.startTime;
let total = 0;
let idle = 0;
for (let i = 0; i < prof.samples.length; i++) {
  const gap = i === 0 ? 0 : (prof.timeDeltas[i] ?? 0); // the first delta is from the profiler's start
  t += prof.timeDeltas[i] ?? 0;
  const dt = Math.min(gap, cap);
  const at = t - prof.startTime;
  if (at < from || at > to) continue;
  offCpu += gap - dt;
  const f = byId.get(prof.samples[i]).callFrame;
  if (f.functionName === '(idle)') {
    idle += dt;
    continue;
  }
  total += dt;
  const where = f.url ? `${f.url.replace(/^.*\/(node_modules|services|packages)\//, '$1/').replace(/^node:/, '')}:${f.lineNumber + 1}` : '';
  const key = byModule ? (f.functionName === '(garbage collector)' ? '(garbage collector)\t' : `${moduleOf(prof.samples[i])}\t`) : `${f.functionName || '(anonymous)'}\t${where}`;
  self.set(key, (self.get(key) ?? 0) + dt);
}
const rows = [...self].sort((a, b) => b[1] - a[1]).slice(0, top);
const ms = (us) => (us / 1000).toFixed(1);
console.log(`busy ${ms(total)} ms, idle ${ms(idle)} ms, not running ${ms(offCpu)} ms (sampled every ${interval} µs; ${file.replace(/^.*\//, '')})\n`);
console.log(`| self ms | % of busy | ${byModule ? 'module' : 'function'} | where |\n|---:|---:|---|---|`);
for (const [key, us] of rows) {
  const [fn, where] = key.split('\t');
  console.log(`| ${ms(us)} | ${((100 * us) / total).toFixed(1)} | ${fn} | ${where} |`);
}
