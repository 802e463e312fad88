// Versions of everything the bench compares, for the setup line (and so a result file says what it measured).
import { spawnSync } from 'node:child_process';

const first = (cmd, args, re) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0 && !r.stdout && !r.stderr) return undefined;
  return re.exec(`${r.stdout}${r.stderr}`)?.[1];
};

export function peerVersions() {
  return {
    redis: first('redis-server', ['--version'], /v=(\S+)/),
    nginx: first('nginx', ['-v'], /nginx\/(\S+)/),
    nchan: first('dpkg-query', ['-W', '-f=${Version}', 'libnginx-mod-nchan'], /^(\S+)/),
    pushpin: first('pushpin', ['--version'], /pushpin (\S+)/),
    zurl: first('zurl', ['--version'], /Zurl (\S+)/),
  };
}
