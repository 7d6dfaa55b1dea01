/**
 * A one-node Slurm cluster on localhost for tests: munged, slurmctld and slurmd started from Debian's
 * `munge` and `slurm-wlm` packages with everything in a temp folder (key, sockets, slurm.conf, state,
 * spool, pid and log files, ports on 127.0.0.1). Nothing system-wide is read or changed: the daemons and
 * the client commands get the config through `SLURM_CONF` and the munge socket through `AuthInfo`.
 * Every daemon runs in the foreground as a child of this process and is stopped by its PID.
 *
 * `SlurmCluster.start()` resolves to a cluster, or to a string saying why none could start (packages
 * missing, not root, a daemon exiting); tests print that reason and skip.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const BIN = { munged: '/usr/sbin/munged', slurmctld: '/usr/sbin/slurmctld', slurmd: '/usr/sbin/slurmd' };

function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A running one-node cluster. */
export class SlurmCluster {
  /** Environment for client commands (sbatch, squeue, sacct ...): SLURM_CONF set. */
  readonly env: NodeJS.ProcessEnv;
  private onExit?: () => void;
  private constructor(
    readonly dir: string,
    readonly conf: string,
    private readonly daemons: Array<{ name: string; child: ChildProcess }>,
  ) {
    this.env = { ...process.env, SLURM_CONF: conf };
  }

  /**
   * Starts munged, slurmctld and slurmd; resolves when the node is idle. `cpus` is the node's CPU count
   * as Slurm sees it (may exceed the machine's: `SlurmdParameters=config_overrides`).
   */
  static async start(options: { cpus?: number; readyTimeoutMs?: number } = {}): Promise<SlurmCluster | string> {
    if (process.platform !== 'linux') {
      return 'Slurm test cluster: Linux only';
    }
    if (typeof process.getuid === 'function' && process.getuid() !== 0) {
      return 'Slurm test cluster: needs root (slurmd runs jobs as their user)';
    }
    const missing = [...Object.values(BIN).filter((b) => !existsSync(b)), ...['sbatch', 'squeue', 'sinfo', 'scontrol'].filter((c) => !which(c))];
    if (missing.length > 0) {
      return `Slurm test cluster: not installed (${missing.join(', ')} missing; apt-get install -y slurm-wlm munge)`;
    }
    // short path: unix socket paths are limited to 108 bytes
    const dir = mkdtempSync(path.join('/tmp', 'alref-slurm-'));
    const daemons: Array<{ name: string; child: ChildProcess }> = [];
    const cluster = new SlurmCluster(dir, path.join(dir, 'slurm.conf'), daemons);
    // if the test process dies without running stop(), the daemons die with it (by PID)
    const onExit = (): void => {
      for (const d of daemons) {
        if (d.child.exitCode === null && d.child.signalCode === null) {
          d.child.kill('SIGKILL');
        }
      }
    };
    process.once('exit', onExit);
    cluster.onExit = onExit;
    try {
      for (const d of ['munge', 'state', 'spool', 'log']) {
        mkdirSync(path.join(dir, d), { mode: 0o700 });
      }
      const key = path.join(dir, 'munge', 'munge.key');
      writeFileSync(key, randomBytes(1024), { mode: 0o400 });
      const socket = path.join(dir, 'munge', 'munge.socket');
      const munged = spawn(BIN.munged, [
        '--foreground', '--force', `--key-file=${key}`, `--socket=${socket}`, `--pid-file=${path.join(dir, 'munge', 'munged.pid')}`,
        `--log-file=${path.join(dir, 'log', 'munged.log')}`, `--seed-file=${path.join(dir, 'munge', 'munged.seed')}`,
      ], { stdio: ['ignore', 'ignore', 'pipe'] });
      daemons.push({ name: 'munged', child: munged });
      await cluster.waitFor(() => existsSync(socket), 'munged socket', options.readyTimeoutMs);

      const host = os.hostname().split('.')[0];
      const [ctldPort, slurmdPort] = [await freePort(), await freePort()];
      const cpus = options.cpus ?? 4;
      writeFileSync(cluster.conf, [
        'ClusterName=alreftest',
        `SlurmctldHost=${host}(127.0.0.1)`,
        `SlurmctldPort=${ctldPort}`,
        `SlurmdPort=${slurmdPort}`,
        'SlurmUser=root',
        'SlurmdUser=root',
        'AuthType=auth/munge',
        'CredType=cred/munge',
        `AuthInfo=socket=${socket}`,
        `StateSaveLocation=${path.join(dir, 'state')}`,
        `SlurmdSpoolDir=${path.join(dir, 'spool')}`,
        `SlurmctldPidFile=${path.join(dir, 'slurmctld.pid')}`,
        `SlurmdPidFile=${path.join(dir, 'slurmd.pid')}`,
        `SlurmctldLogFile=${path.join(dir, 'log', 'slurmctld.log')}`,
        `SlurmdLogFile=${path.join(dir, 'log', 'slurmd.log')}`,
        'SlurmctldDebug=info',
        'SlurmdDebug=info',
        'ProctrackType=proctrack/linuxproc',
        'TaskPlugin=task/none',
        'MpiDefault=none',
        'SwitchType=switch/none',
        'JobAcctGatherType=jobacct_gather/none',
        'AccountingStorageType=accounting_storage/none',
        'JobCompType=jobcomp/none',
        'SchedulerType=sched/backfill',
        'SelectType=select/cons_tres',
        'SelectTypeParameters=CR_CPU',
        'ReturnToService=2',
        'SlurmdParameters=config_overrides',
        'SlurmdTimeout=300',
        'MessageTimeout=60',
        'KillWait=5',
        `NodeName=alrefnode NodeAddr=127.0.0.1 NodeHostname=${host} CPUs=${cpus} RealMemory=4000 State=UNKNOWN`,
        'PartitionName=test Nodes=alrefnode Default=YES MaxTime=INFINITE State=UP',
        '',
      ].join('\n'));
      const env = cluster.env;
      daemons.push({ name: 'slurmctld', child: spawn(BIN.slurmctld, ['-D', '-c', '-f', cluster.conf], { env, stdio: ['ignore', 'ignore', 'pipe'] }) });
      daemons.push({ name: 'slurmd', child: spawn(BIN.slurmd, ['-D', '-N', 'alrefnode', '-f', cluster.conf], { env, stdio: ['ignore', 'ignore', 'pipe'] }) });
      await cluster.waitFor(() => {
        const r = spawnSync('sinfo', ['-h', '-N', '-o', '%t'], { env, encoding: 'utf8', timeout: 30_000 });
        return r.status === 0 && /^idle/m.test(r.stdout);
      }, 'the node to become idle', options.readyTimeoutMs);
      return cluster;
    } catch (err) {
      const why = `${(err as Error).message}${cluster.logTail()}`;
      await cluster.stop();
      return `Slurm test cluster could not start: ${why}`;
    }
  }

  /** Polls `ready` every 250 ms; throws (naming what it waited for) if a daemon exits or the time runs out. */
  private async waitFor(ready: () => boolean, what: string, timeoutMs = 120_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const dead = this.daemons.find((d) => d.child.exitCode !== null || d.child.signalCode !== null);
      if (dead) {
        throw new Error(`${dead.name} exited (code ${dead.child.exitCode ?? dead.child.signalCode}) while waiting for ${what}`);
      }
      if (ready()) {
        return;
      }
      if (Date.now() > end) {
        throw new Error(`timed out waiting for ${what}`);
      }
      await sleep(250);
    }
  }

  /** The last lines of the daemons' logs (for failure messages). */
  logTail(lines = 15): string {
    let out = '';
    for (const f of ['munged.log', 'slurmctld.log', 'slurmd.log']) {
      const p = path.join(this.dir, 'log', f);
      if (existsSync(p)) {
        out += `\n--- ${f}\n${readFileSync(p, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')}`;
      }
    }
    return out;
  }

  /** Runs a client command with the cluster's SLURM_CONF; throws with its stderr on failure. */
  run(cmd: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}, cwd?: string): string {
    const r = spawnSync(cmd, args, { env: { ...this.env, ...extraEnv }, encoding: 'utf8', cwd, timeout: 60_000 });
    if (r.status !== 0) {
      throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}${r.error ? ` ${r.error.message}` : ''}`);
    }
    return r.stdout;
  }

  /** Waits until none of the jobs is pending or running (`squeue` lists none of them). */
  async waitForJobs(jobIds: string[], timeoutMs = 600_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const r = spawnSync('squeue', ['-h', '-j', jobIds.join(','), '-o', '%i %T'], { env: this.env, encoding: 'utf8', timeout: 30_000 });
      // squeue fails for job ids that have left the queue; an empty list means all are done
      if (r.status === 0 && r.stdout.trim() === '') {
        return;
      }
      if (r.status !== 0 && /Invalid job id/i.test(r.stderr)) {
        return;
      }
      if (Date.now() > end) {
        throw new Error(`jobs ${jobIds.join(',')} still queued after ${timeoutMs / 1000} s: ${r.stdout}${this.logTail()}`);
      }
      await sleep(1000);
    }
  }

  /** Stops every daemon by its PID (SIGTERM, then SIGKILL) and removes the folder. */
  async stop(): Promise<void> {
    const ctld = this.daemons.find((d) => d.name === 'slurmctld');
    if (ctld && ctld.child.exitCode === null && ctld.child.signalCode === null) {
      // jobs of a failed test: cancel them (this cluster's partition only) and let slurmd end them
      spawnSync('scancel', ['--partition=test'], { env: this.env, timeout: 30_000 });
      const end = Date.now() + 30_000;
      while (Date.now() < end) {
        const r = spawnSync('squeue', ['-h', '-p', 'test'], { env: this.env, encoding: 'utf8', timeout: 30_000 });
        if (r.status !== 0 || r.stdout.trim() === '') {
          break;
        }
        await sleep(500);
      }
    }
    for (const d of [...this.daemons].reverse()) {
      const c = d.child;
      if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) {
        continue;
      }
      const exited = new Promise<void>((r) => c.once('exit', () => r()));
      c.kill('SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    if (this.onExit) {
      process.off('exit', this.onExit);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
