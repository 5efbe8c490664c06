#!/usr/bin/env python3
"""Snapshot benchmark (issue 13), test guest counting over the serial port
(tg.count, no spin: the first byte on the console after a resume is the
guest running again). For each RAM size:
  - cold boot: exec -> InstanceStart answered, exec -> first guest byte on
    the console, ember CPU (all threads, schedstat) at that point;
  - Full snapshot: create time (API round trip), file size, bytes on disk;
  - Diff after the guest touched 1 % of its RAM since the Full snapshot
    (tg.count_touch: one new page per count; track_dirty_pages): create
    time, bytes written;
  - load (File backend, resume_vm): exec -> load answered, exec -> first
    guest byte after the resume, ember CPU at that point;
  - VMM side, seccomp off, kvm_run_shim.so preloaded (it reads
    CLOCK_PROCESS_CPUTIME_ID of all threads and CLOCK_MONOTONIC at the
    process's first KVM_RUN, before the guest's first instruction, and holds
    it there): exec -> snapshot loaded -> first KVM_RUN vs a cold boot's exec
    -> first KVM_RUN in the same run, wall and ember CPU (user + kernel:
    an upper bound of ember's own), for the test guest over the API and for
    Debian's cloud kernel + initramfs when they are cached, over the API
    (the load's own kind of start: the 0.3x goal's reference) and through
    `ember run` (tools/bench/startup_bench.sh's headline boot); and the
    floor under all of them: kvm_floor (tools/bench/kvm_floor.c), a trivial
    program that only execs, creates the VM (irqchip, PIT, the memory file
    mapped MAP_PRIVATE in a slot) and one vCPU and sets its CPUID and
    registers, dynamic and static-pie;
  - private memory (smaps_rollup Private_*) of a restored ember vs a cold
    booted one, guest running; 10 clones of one snapshot at once vs 10
    cold boots at once (private and shared KiB, smaps_rollup);
  - working-set prefetch (the load's working_set extension, REAP): a guest
    that wrote part of its RAM in its first 16 counts and rereads it every
    16 counts after (tg.count_touch, tg.count_burst, tg.count_reread) is
    snapshotted; a load records the pages its guest touches until it has
    read them all once; then, with the memory file's page cache dropped
    before each load (POSIX_FADV_DONTNEED: a cold start), loads without and
    with the prefetch: exec -> first guest output and exec -> the guest
    reread all those pages (its work done). Two patterns: a quarter of RAM
    in order, and 1/16 of RAM 4 pages apart in a scattered order
    (tg.count_scatter); with the storage's cost of a random 4 KiB read and
    of reading in order, which decide what a prefetch can gain.
Median of RUNS runs for the load figures."""
import json, os, re, select, socket, statistics, subprocess, sys, tempfile, time

BUILD = os.environ.get('BUILD', 'build')
EMBER = os.path.join(BUILD, 'ember')
TG = os.path.join(BUILD, 'firmware', 'testguest.elf')
RUNS = int(os.environ.get('SNAP_BENCH_RUNS', '5'))
CLONES = int(os.environ.get('SNAP_BENCH_CLONES', '10'))
SIZES = [int(x) for x in os.environ.get('SNAP_BENCH_MIB', '128 1024').split()]
ARGS = 'console=ttyS0 tg.count=1000000000 tg.count_spin=0'
SHIM = os.path.join(BUILD, 'bench', 'kvm_run_shim.so')
# A static ember ignores LD_PRELOAD: the shimmed runs use its copy with the
# shim linked in (Makefile: bench/ember-kvmrun), which reads the same variable.
EMBER_SHIM = os.path.join(BUILD, 'bench', 'ember-kvmrun')
if not os.path.exists(EMBER_SHIM) or os.path.getmtime(EMBER_SHIM) < os.path.getmtime(EMBER):
    EMBER_SHIM = EMBER
FLOOR = os.path.join(BUILD, 'bench', 'kvm_floor')  # snapshot_bench.sh builds it
LINUX = os.environ.get('SNAP_BENCH_LINUX', '')  # "VMLINUZ INITRD" (snapshot_bench.sh)


def now():
    return time.monotonic()


def api(sock, method, path, body=None):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(60)
    s.connect(sock)
    data = json.dumps(body).encode() if body is not None else b''
    req = '%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n' % (method, path, len(data))
    s.sendall(req.encode() + data)
    resp = b''
    while b'\r\n\r\n' not in resp:
        chunk = s.recv(65536)
        if not chunk:
            break
        resp += chunk
    head, _, rest = resp.partition(b'\r\n\r\n')
    code = int(head.split()[1])
    clen = 0
    for line in head.split(b'\r\n'):
        if line.lower().startswith(b'content-length:'):
            clen = int(line.split(b':')[1])
    while len(rest) < clen:
        rest += s.recv(65536)
    s.close()
    if code >= 300:
        raise RuntimeError('%s %s -> %d %s' % (method, path, code, rest.decode()))
    return rest


def cpu_ms(pid):
    total = 0
    for t in os.listdir('/proc/%d/task' % pid):
        try:
            with open('/proc/%d/task/%s/schedstat' % (pid, t)) as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total / 1e6


def rollup(pid):
    """(private, shared) KiB of the whole process."""
    priv = shared = 0
    with open('/proc/%d/smaps_rollup' % pid) as f:
        for line in f:
            if line.startswith(('Private_Clean:', 'Private_Dirty:')):
                priv += int(line.split()[1])
            elif line.startswith(('Shared_Clean:', 'Shared_Dirty:')):
                shared += int(line.split()[1])
    return priv, shared


def private_kib(pid):
    kib = 0
    with open('/proc/%d/smaps_rollup' % pid) as f:
        for line in f:
            if line.startswith(('Private_Clean:', 'Private_Dirty:')):
                kib += int(line.split()[1])
    return kib


def shim_env():
    """(env, read end): the shim reports the first KVM_RUN on the pipe."""
    r, w = os.pipe()
    env = dict(os.environ, LD_PRELOAD=os.path.abspath(SHIM), KVM_RUN_SHIM_FD=str(w))
    return env, r, w


def shim_read(r, t0, timeout=30):
    """(wall s from t0, CPU ms, CPU ms less KVM's ioctls) at the first KVM_RUN."""
    buf = b''
    end = now() + timeout
    while b'\n' not in buf:
        if now() > end:
            raise RuntimeError('no first KVM_RUN')
        p = select.select([r], [], [], 0.5)[0]
        if p:
            c = os.read(r, 256)
            if not c:
                raise RuntimeError('shim pipe closed (VMM died?)')
            buf += c
    kv = dict(x.split('=') for x in buf.decode().split())
    cpu = int(kv['cpu_run_ns']) / 1e6
    return int(kv['mono_run_ns']) / 1e9 - t0, cpu, cpu - int(kv['kvm_ioctl_cpu_ns']) / 1e6


class Ember:
    def __init__(self, d, name, shim=False):
        self.sock = os.path.join(d, name + '.sock')
        args, env, fds, self.shim_r = [EMBER, '--api-sock', self.sock], None, (), None
        if shim:
            args[0] = EMBER_SHIM
            env, self.shim_r, w = shim_env()
            args.append('--no-seccomp')
            fds = (w,)
        self.t0 = now()
        self.p = subprocess.Popen(args, stdin=subprocess.DEVNULL, env=env, pass_fds=fds,
                                  stdout=subprocess.PIPE, stderr=open(os.path.join(d, name + '.err'), 'w'))
        _started.append(self.p)
        if shim:
            os.close(w)
        os.set_blocking(self.p.stdout.fileno(), False)
        while True:
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(self.sock)
                s.close()
                break
            except OSError:
                if now() - self.t0 > 10:
                    raise RuntimeError('no API socket')
                time.sleep(0.0002)

    def drain(self):
        try:
            return self.p.stdout.read() or b''
        except BlockingIOError:
            return b''

    def wait_output(self, needle, timeout=30):
        """Time of the first chunk containing needle (polled every 50 us)."""
        buf = b''
        end = now() + timeout
        while now() < end:
            chunk = self.drain()
            if chunk:
                buf += chunk
                if needle in buf:
                    return now(), buf
            else:
                time.sleep(0.00005)
        raise RuntimeError('no %r on the console' % needle)

    def first_run(self):
        return shim_read(self.shim_r, self.t0)

    def kill(self):
        self.p.kill()
        self.p.wait()
        if self.shim_r is not None:
            os.close(self.shim_r)
            self.shim_r = None


_seq = [0]
_started = []  # every ember started: main() stops those left when a step fails


def boot(d, mib, track, touch=0, burst=1, extra=''):
    _seq[0] += 1
    e = Ember(d, 'boot%d' % _seq[0])
    api(e.sock, 'PUT', '/machine-config', {'vcpu_count': 1, 'mem_size_mib': mib, 'track_dirty_pages': track})
    api(e.sock, 'PUT', '/boot-source', {'kernel_image_path': TG,
                                        'boot_args': ARGS + (' tg.count_touch=%d' % touch if touch else '')
                                        + (' tg.count_burst=%d' % burst if burst > 1 else '') + extra})
    api(e.sock, 'PUT', '/actions', {'action_type': 'InstanceStart'})
    started = now()
    t, _ = e.wait_output(b'ember testguest')
    return e, started - e.t0, t - e.t0, cpu_ms(e.p.pid)


def shim_boot_tg(d, mib):
    """Cold boot of the test guest over the API: (wall s, CPU ms) at the first KVM_RUN."""
    _seq[0] += 1
    e = Ember(d, 'sboot%d' % _seq[0], shim=True)
    api(e.sock, 'PUT', '/machine-config', {'vcpu_count': 1, 'mem_size_mib': mib})
    api(e.sock, 'PUT', '/boot-source', {'kernel_image_path': TG, 'boot_args': ARGS})
    api(e.sock, 'PUT', '/actions', {'action_type': 'InstanceStart'})
    fig = e.first_run()
    e.kill()
    return fig


def shim_boot_linux(d, mib):
    """Cold boot of Linux through `ember run`: (wall s, CPU ms) at the first KVM_RUN."""
    k, i = LINUX.split()
    env, r, w = shim_env()
    t0 = now()
    p = subprocess.Popen([EMBER_SHIM, 'run', '--mem', '%dM' % mib, '--cpus', '1', '--console', 'none',
                          '--no-seccomp', '--kernel', k, '--initrd', i, '--cmdline',
                          'console=ttyS0 reboot=k panic=1'], env=env, pass_fds=(w,),
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    os.close(w)
    try:
        return shim_read(r, t0)
    finally:
        p.kill()
        p.wait()
        os.close(r)


def shim_boot_linux_api(d, mib):
    """Cold boot of Linux over the API socket, the same kind of start as a
    load (ember --api-sock, requests, first KVM_RUN): (wall s, CPU ms, own ms)."""
    k, i = LINUX.split()
    _seq[0] += 1
    e = Ember(d, 'sbootl%d' % _seq[0], shim=True)
    api(e.sock, 'PUT', '/machine-config', {'vcpu_count': 1, 'mem_size_mib': mib})
    api(e.sock, 'PUT', '/boot-source', {'kernel_image_path': k, 'initrd_path': i,
                                        'boot_args': 'console=ttyS0 reboot=k panic=1'})
    api(e.sock, 'PUT', '/actions', {'action_type': 'InstanceStart'})
    fig = e.first_run()
    e.kill()
    return fig


def shim_floor(mem, cpuid, suffix=''):
    """kvm_floor (tools/bench/kvm_floor.c): exec, VM + irqchip + PIT + RAM slot
    (mem mapped MAP_PRIVATE) + one vCPU with CPUID and registers, nothing
    else: (wall s, CPU ms, own ms) at the KVM_RUN it would do."""
    env, r, w = shim_env()
    del env['LD_PRELOAD']
    t0 = now()
    p = subprocess.Popen([FLOOR + suffix, mem, cpuid], env=env,
                         pass_fds=(w,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    os.close(w)
    try:
        return shim_read(r, t0)
    finally:
        p.wait()
        os.close(r)


def shim_load(d, name, snap, mem):
    """exec -> PUT /snapshot/load (resume_vm) -> first KVM_RUN: (wall s, CPU ms)."""
    r = Ember(d, name, shim=True)
    api(r.sock, 'PUT', '/snapshot/load', {'snapshot_path': snap, 'mem_backend': {'backend_type': 'File', 'backend_path': mem}, 'resume_vm': True})
    fig = r.first_run()
    r.kill()
    return fig


def ws_load(d, name, snap, mem, ws, record, upto):
    """exec -> load answered, -> first output, -> COUNT upto (s); the memory
    file's page cache is dropped first unless recording."""
    if not record:
        fd = os.open(mem, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
    r = Ember(d, name)
    body = {'snapshot_path': snap, 'mem_backend': {'backend_type': 'File', 'backend_path': mem},
            'resume_vm': True}
    if ws:
        body['working_set'] = {'path': ws, 'record': record}
    api(r.sock, 'PUT', '/snapshot/load', body)
    loaded = now()
    first, _ = r.wait_output(b'COUNT')
    done, _ = r.wait_output(b'COUNT %d\r' % upto, timeout=120)
    if record:
        api(r.sock, 'PATCH', '/vm', {'state': 'Paused'})  # writes the set
    r.kill()
    return loaded - r.t0, first - r.t0, done - r.t0


def ws_bench(d, mib, tag, wtouch, extra):
    """Working-set prefetch for one access pattern: (pages touched, set
    description, runs in the set, [plain], [prefetch]) with (exec -> load
    answered, -> first output, -> the guest reread its pages) per run."""
    e, *_ = boot(d, mib, False, wtouch, wtouch // 16, ' tg.count_reread=1' + extra)
    e.wait_output(b'COUNT 40\r', timeout=120)
    api(e.sock, 'PATCH', '/vm', {'state': 'Paused'})
    wsnap = os.path.join(d, 's%d.ws%s' % (mib, tag))
    wmem = os.path.join(d, 's%d.ws%s.mem' % (mib, tag))
    api(e.sock, 'PUT', '/snapshot/create', {'snapshot_path': wsnap, 'mem_file_path': wmem})
    time.sleep(0.05)
    out = e.drain()
    wat = int(out.split(b'COUNT ')[-1].split(b'\r')[0]) if b'COUNT ' in out else 40
    e.kill()
    ws = os.path.join(d, 'ws%d%s' % (mib, tag))
    upto = wat + 17
    ws_load(d, 'wsrec%d%s' % (mib, tag), wsnap, wmem, ws, True, upto)
    with open(ws, 'rb') as f:
        hdr = f.read(32)
    ws_runs = int.from_bytes(hdr[24:28], 'little')
    plain, pre = [], []
    for i in range(RUNS):
        plain.append(ws_load(d, 'wsno%d%s_%d' % (mib, tag, i), wsnap, wmem, None, False, upto))
        pre.append(ws_load(d, 'wspre%d%s_%d' % (mib, tag, i), wsnap, wmem, ws, False, upto))
    with open(os.path.join(d, 'wspre%d%s_0.err' % (mib, tag))) as f:
        lines = [l for l in f if 'prefetched' in l]
    desc = lines[0].split('working set: ')[-1].split(' from ')[0] if lines else '?'
    return wtouch, desc, ws_runs, plain, pre


def storage_costs(path, n=512):
    """What the memory file's storage costs with its page cache dropped:
    (us per random 4 KiB read, MB/s reading the first 32 MiB in order)."""
    import random
    fd = os.open(path, os.O_RDONLY)
    try:
        pages = os.fstat(fd).st_size // 4096
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
        t = now()
        for p in random.sample(range(pages), min(n, pages)):
            os.pread(fd, 1, p * 4096)
        rand_us = (now() - t) * 1e6 / min(n, pages)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        size = min(32 << 20, pages * 4096)
        t = now()
        got = 0
        while got < size:
            b = os.pread(fd, 1 << 20, got)
            if not b:
                break
            got += len(b)
        seq = got / (now() - t) / 1e6
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        return rand_us, seq
    finally:
        os.close(fd)


def fmt_ms(x):
    return '%.1f ms' % (x * 1000)


def med(xs):
    return statistics.median(xs)


def main():
    for f in (EMBER, TG):
        if not os.path.exists(f):
            print('snapshot: %s missing (run make first)' % f)
            return 1
    d = tempfile.mkdtemp(prefix='ember-snapbench.')
    try:
        for mib in SIZES:
            snap, mem = os.path.join(d, 's%d' % mib), os.path.join(d, 'm%d' % mib)
            cold, cold_priv = [], []
            for _ in range(RUNS):
                e, *fig = boot(d, mib, False)
                cold.append((e, *fig))
                e.wait_output(b'COUNT 2')
                cold_priv.append(private_kib(e.p.pid))
                e.kill()
            touch = mib * 256 // 100  # 1 % of the guest's pages
            e, *_ = boot(d, mib, True, touch)
            e.wait_output(b'COUNT 1000')
            api(e.sock, 'PATCH', '/vm', {'state': 'Paused'})
            t = now()
            api(e.sock, 'PUT', '/snapshot/create', {'snapshot_path': snap, 'mem_file_path': mem})
            full_s = now() - t
            st = os.stat(mem)
            time.sleep(0.05)
            out = e.drain()
            # the last whole line: the paused guest may have printed part of one
            counts = re.findall(rb'COUNT (\d+)\r', out)
            at = int(counts[-1]) if counts else 1000
            api(e.sock, 'PATCH', '/vm', {'state': 'Resumed'})
            # one new page per count: touch counts later, 1 % of RAM is dirty
            e.wait_output(b'COUNT %d\r' % (at + touch + 1), timeout=120)
            api(e.sock, 'PATCH', '/vm', {'state': 'Paused'})
            t = now()
            api(e.sock, 'PUT', '/snapshot/create', {'snapshot_path': snap + '.diff', 'mem_file_path': mem + '.diff', 'snapshot_type': 'Diff'})
            diff_s = now() - t
            dst = os.stat(mem + '.diff')
            e.kill()
            # working set: a guest that writes a quarter of its RAM in 16
            # counts (tg.count_burst), snapshotted once it has written all of
            # it, then only rereads it; its set recorded once, then
            # cold-cache loads without / with it. Twice: the pages in order
            # (the kernel's read-ahead of the memory file serves the guest
            # already) and 1/16 of RAM 4 pages apart in a scattered order
            # (tg.count_scatter: one fault and one small read per page).
            ws_figs = [ws_bench(d, mib, 'seq', mib * 256 // 4, ''),
                       ws_bench(d, mib, 'scat', mib * 256 // 16, ' tg.count_scatter=4')]
            io_rand, io_seq = storage_costs(snap + '.wsseq.mem')
            vmm_cold, vmm_linux, vmm_linux_api, vmm_load = [], [], [], []
            # kvm_floor as built by snapshot_bench.sh: glibc dynamic and
            # static-pie, and musl static-pie (as ember is) where it links
            floors = [(n, x, []) for n, x in (('dynamic', ''), ('static-pie', '-static'),
                                               ('musl static-pie', '-musl'))
                      if os.path.exists(FLOOR + x)]
            if os.path.exists(SHIM):
                cpuid = os.path.join(d, 'cpuid')
                floor = (os.path.exists(FLOOR) and
                         subprocess.run([FLOOR, '--dump-cpuid', cpuid]).returncode == 0)
                for i in range(RUNS):
                    vmm_cold.append(shim_boot_tg(d, mib))
                    if LINUX:
                        vmm_linux.append(shim_boot_linux(d, mib))
                        vmm_linux_api.append(shim_boot_linux_api(d, mib))
                    vmm_load.append(shim_load(d, 'sload%d_%d' % (mib, i), snap, mem))
                    for _, suffix, figs in floors if floor else ():
                        figs.append(shim_floor(mem, cpuid, suffix))
            loads = []
            for i in range(RUNS):
                r = Ember(d, 'load%d_%d' % (mib, i))
                api(r.sock, 'PUT', '/snapshot/load', {'snapshot_path': snap, 'mem_backend': {'backend_type': 'File', 'backend_path': mem}, 'resume_vm': True})
                loaded = now()
                t, _ = r.wait_output(b'COUNT')
                cpu = cpu_ms(r.p.pid)
                r.wait_output(b'COUNT')
                loads.append((loaded - r.t0, t - r.t0, cpu, private_kib(r.p.pid)))
                r.kill()
            # 10 clones at once vs 10 cold boots at once: memory of the whole process
            clones = []
            for i in range(CLONES):
                r = Ember(d, 'clone%d_%d' % (mib, i))
                api(r.sock, 'PUT', '/snapshot/load', {'snapshot_path': snap, 'mem_backend': {'backend_type': 'File', 'backend_path': mem}, 'resume_vm': True})
                clones.append(r)
            for r in clones:
                r.wait_output(b'COUNT')
            clone_mem = [rollup(r.p.pid) for r in clones]
            for r in clones:
                r.kill()
            colds = [boot(d, mib, False)[0] for _ in range(CLONES)]
            for e in colds:
                e.wait_output(b'COUNT 2')
            cold_mem = [rollup(e.p.pid) for e in colds]
            for e in colds:
                e.kill()
            print('%d MiB guest RAM (test guest, %d runs, median):' % (mib, RUNS))
            print('  cold boot:  exec -> InstanceStart answered %s, -> first guest output %s, ember CPU %.2f ms'
                  % (fmt_ms(med([c[1] for c in cold])), fmt_ms(med([c[2] for c in cold])), med([c[3] for c in cold])))
            print('  Full create: %s, memory file %d MiB apparent, %d KiB on disk; state file %d bytes'
                  % (fmt_ms(full_s), st.st_size >> 20, st.st_blocks // 2, os.stat(snap).st_size))
            print('  Diff create after touching 1 %% of RAM (%d pages): %s, %d KiB written (sparse file)'
                  % (touch, fmt_ms(diff_s), dst.st_blocks // 2))
            print('  load (File, resume_vm): exec -> load answered %s, -> first guest output %s, ember CPU %.2f ms'
                  % (fmt_ms(med([l[0] for l in loads])), fmt_ms(med([l[1] for l in loads])), med([l[2] for l in loads])))
            ratio = med([l[1] for l in loads]) / med([c[2] for c in cold])
            print('  restore / cold boot (exec -> first guest output, test guest): %.2fx' % ratio)
            if vmm_load:
                lw, lc = med([x[0] for x in vmm_load]), med([x[1] for x in vmm_load])
                cw, cc = med([x[0] for x in vmm_cold]), med([x[1] for x in vmm_cold])
                lo = med([x[2] for x in vmm_load])
                print('  VMM side, exec -> first KVM_RUN (seccomp off): load %s wall, %.2f ms CPU '
                      '(%.2f ms of it ember\'s own, KVM\'s ioctls not counted; goal <= 3 ms at 128 MiB); '
                      'cold boot, test guest over the API: %s, %.2f ms CPU -> %.2fx wall'
                      % (fmt_ms(lw), lc, lo, fmt_ms(cw), cc, lw / cw))
                if vmm_linux_api:
                    aw, ac = med([x[0] for x in vmm_linux_api]), med([x[1] for x in vmm_linux_api])
                    print('    cold boot, Debian kernel + initramfs over the API (the load\'s kind of '
                          'start): %s, %.2f ms CPU -> load/boot %.2fx wall, %.2fx CPU (goal <= 0.3x)'
                          % (fmt_ms(aw), ac, lw / aw, lc / ac))
                if vmm_linux:
                    xw, xc = med([x[0] for x in vmm_linux]), med([x[1] for x in vmm_linux])
                    print('    cold boot, Debian kernel + initramfs (ember run, no API): %s, %.2f ms CPU -> '
                          'load/boot %.2fx wall, %.2fx CPU'
                          % (fmt_ms(xw), xc, lw / xw, lc / xc))
                for name, _, fl in floors:
                    if not fl:
                        continue
                    fw, fc = med([x[0] for x in fl]), med([x[1] for x in fl])
                    fk = fc - med([x[2] for x in fl])
                    ref = ('; %.2fx wall, %.2fx CPU of the API cold boot'
                           % (fw / aw, fc / ac)) if vmm_linux_api else ''
                    print('    floor, kvm_floor %s (exec + VM, irqchip, PIT, RAM slot, 1 vCPU, '
                          'CPUID, registers; nothing else): %s, %.2f ms CPU (%.2f ms in KVM\'s '
                          'ioctls)%s' % (name, fmt_ms(fw), fc, fk, ref))
                lowest = min((med([x[1] for x in fl]) for _, _, fl in floors if fl), default=None)
                if lowest is not None and vmm_linux_api:
                    print('    0.3x of that cold boot is %s wall, %.2f ms CPU: %s the lowest floor'
                          % (fmt_ms(0.3 * aw), 0.3 * ac, 'below' if 0.3 * ac < lowest else 'above'))
            else:
                print('  VMM side: %s missing (tools/bench/snapshot_bench.sh builds it)' % SHIM)
            print('  private memory, guest running: restored %d KiB vs cold boot %d KiB'
                  % (med([l[3] for l in loads]), med(cold_priv)))
            print('  working set (REAP record and prefetch), memory file page cache dropped before '
                  'each load (%d runs); its storage: %.0f us per random 4 KiB read, %.0f MB/s in order:'
                  % (RUNS, io_rand, io_seq))
            for name, (wtouch, desc, _, ws_plain, ws_pre) in zip(
                    ('in order', 'scattered (4 pages apart)'), ws_figs):
                pw = [med([x[k] for x in ws_plain]) for k in range(3)]
                pp = [med([x[k] for x in ws_pre]) for k in range(3)]
                print('    %d pages %s, set %s: no prefetch: load answered %s, first '
                      'output %s, pages reread %s; prefetch: %s, %s, %s -> %.2fx faster to the '
                      'pages reread' % (wtouch, name, desc, fmt_ms(pw[0]), fmt_ms(pw[1]),
                                        fmt_ms(pw[2]), fmt_ms(pp[0]), fmt_ms(pp[1]), fmt_ms(pp[2]),
                                        pw[2] / pp[2]))
            print('  %d clones at once: private %d KiB, shared %d KiB in all; %d cold boots: private %d KiB, shared %d KiB'
                  % (CLONES, sum(m[0] for m in clone_mem), sum(m[1] for m in clone_mem),
                     CLONES, sum(m[0] for m in cold_mem), sum(m[1] for m in cold_mem)))
    finally:
        for p in _started:
            if p.poll() is None:
                p.kill()
                p.wait()
        subprocess.run(['rm', '-rf', d])
    return 0


if __name__ == '__main__':
    sys.exit(main())
