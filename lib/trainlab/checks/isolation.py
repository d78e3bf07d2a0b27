"""The operating system's sandbox around a learner's code while it is graded (bubblewrap).

:class:`trainlab.checks.grading.Sandbox` starts the child interpreter through :func:`command`:
``prlimit`` (resource limits) runs ``bwrap`` (bubblewrap, Debian's ``bubblewrap`` package), which
runs ``python -I -S`` with

- its own user namespace, as the unprivileged uid/gid 65534 with no capabilities
  (``--unshare-user --uid --gid``; ``--disable-userns``: no nested namespace);
- its own PID namespace (``--unshare-pid``): it sees only its own processes, so it can neither
  signal nor stop the grader; when the child ends, bubblewrap's init ends and the kernel kills
  every process left in the namespace (nothing it starts survives it); ``--die-with-parent``
  ends it with the grader; ``--new-session``: no terminal to inject keystrokes into;
- no network, IPC, UTS or cgroup namespace of the host (``--unshare-all``);
- an empty environment (``--clearenv``): none of the grader's variables (a secret, a token);
- a file system made of exactly: the interpreter and its shared library, its standard library
  (its ``site-packages`` hidden under an empty tmpfs), the system's shared libraries
  (``/usr/lib/<arch>``, the dynamic loader, the links in ``/etc/alternatives``), NumPy and its
  bundled libraries, and ``sandbox.py``,
  all read-only; ``/work``, an empty private tmpfs of :data:`WORK_BYTES` (the working folder);
  a minimal ``/dev`` and the namespace's own ``/proc``. No home, no repository, no submissions,
  no ``marks.csv``: nothing of the grader's to read, overwrite or exfiltrate;
- a seccomp filter (:func:`seccomp_filter`) that refuses ``fork``/``vfork``/``clone3`` and
  ``clone`` without ``CLONE_THREAD``: the learner's code can start threads but no process
  (``RLIMIT_NPROC`` is not enforced for a namespace created by root, which CI is);
- resource limits from ``prlimit``: address space, CPU seconds, file size, open files, no core.

Without a working bubblewrap the grader refuses to grade unless told ``--unsafe``
(:func:`problem` says why). The AST audit of :mod:`trainlab.checks.grading` is a course rule
(no trainlab, no torch), not this boundary.
"""

from __future__ import annotations

import functools
import os
import platform
import shutil
import struct
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np

UID = GID = 65534
WORK_BYTES = 16 * 2**20
"""Size of the private tmpfs working folder."""
INSIDE = "/sandbox"
"""Where sandbox.py and NumPy appear in the sandbox."""
BOOTSTRAP = (f"import sys; sys.path.insert(0, {INSIDE!r}); import runpy; "
             f"runpy.run_path({INSIDE + '/sandbox.py'!r}, run_name='__main__')")

# seccomp: (audit arch, fork, vfork, clone, clone3) per machine
_ARCHES = {"x86_64": (0xC000003E, 57, 58, 56, 435), "aarch64": (0xC00000B7, None, None, 220, 435)}
_CLONE_THREAD = 0x00010000
_EAGAIN, _ENOSYS = 11, 38


def seccomp_filter(machine: str | None = None) -> bytes | None:
    """A classic-BPF seccomp program (``struct sock_filter[]``) refusing new processes, for
    bubblewrap's ``--seccomp FD``; None on a machine it does not know (x86_64, aarch64)."""
    spec = _ARCHES.get(machine or platform.machine())
    if spec is None:
        return None
    arch, fork, vfork, clone, clone3 = spec
    allow, kill = 0x7FFF0000, 0x80000000
    eagain, enosys = 0x00050000 | _EAGAIN, 0x00050000 | _ENOSYS
    prog: list[tuple[int, int, int, int]] = []

    def ld(offset: int) -> None:
        prog.append((0x20, 0, 0, offset))  # BPF_LD | BPF_W | BPF_ABS

    def ret(value: int) -> None:
        prog.append((0x06, 0, 0, value))  # BPF_RET | BPF_K

    ld(4)                                          # seccomp_data.arch
    prog.append((0x15, 1, 0, arch))                # == arch ? skip the kill
    ret(kill)
    ld(0)                                          # seccomp_data.nr
    if arch == 0xC000003E:
        prog.append((0x35, 0, 1, 0x40000000))      # x32 system calls: refused
        ret(eagain)
    for nr in (fork, vfork):
        if nr is not None:
            prog.append((0x15, 0, 1, nr))
            ret(eagain)
    prog.append((0x15, 0, 1, clone3))              # clone3: ENOSYS makes libc fall back to clone
    ret(enosys)
    prog.append((0x15, 1, 0, clone))               # clone ? look at its flags : allow
    ret(allow)
    ld(16)                                         # low 32 bits of args[0] (flags)
    prog.append((0x45, 0, 1, _CLONE_THREAD))       # a thread ? allow : refuse
    ret(allow)
    ret(eagain)
    return b"".join(struct.pack("<HBBI", *ins) for ins in prog)


def _paths() -> dict[str, Path]:
    exe = Path(os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable))
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    numpy_dir = Path(np.__file__).parent
    found = {"exe": exe, "stdlib": stdlib, "numpy": numpy_dir}
    libs = numpy_dir.with_name("numpy.libs")
    if libs.is_dir():
        found["numpy.libs"] = libs
    if sysconfig.get_config_var("Py_ENABLE_SHARED"):
        name = sysconfig.get_config_var("INSTSONAME") or sysconfig.get_config_var("LDLIBRARY")
        for folder in (sysconfig.get_config_var("LIBDIR"), exe.parent.parent / "lib"):
            if folder and (Path(folder) / name).exists():
                found["libpython"] = Path(folder) / name
                break
    return found


def _system_libraries() -> list[str]:
    """The folders of the system's shared libraries and the dynamic loader (read-only)."""
    arch = sysconfig.get_config_var("MULTIARCH") or f"{platform.machine()}-linux-gnu"
    folders = [f"/usr/lib/{arch}", "/usr/lib64", f"/lib/{arch}", "/lib64"]
    real = [os.path.realpath(f) for f in folders if os.path.isdir(f)]
    return list(dict.fromkeys(real))


def command(memory_bytes: int, cpu_seconds: int, seccomp_fd: int | None,
            sandbox_py: Path, args: list[str], tag: str = "") -> list[str]:
    """The argv that runs ``sandbox.py ARGS`` inside the sandbox with these limits."""
    p = _paths()
    argv = ["prlimit", f"--as={memory_bytes}", f"--cpu={cpu_seconds}",
            f"--fsize={2**20}", "--nofile=64", "--core=0", "--",
            shutil.which("bwrap") or "bwrap",
            "--unshare-all", "--unshare-user", "--uid", str(UID), "--gid", str(GID),
            "--disable-userns", "--die-with-parent", "--new-session", "--clearenv",
            "--setenv", "HOME", "/work", "--setenv", "PATH", "/nonexistent",
            "--setenv", "LC_ALL", "C.UTF-8"]
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        argv += ["--setenv", var, "1"]
    if tag:
        argv += ["--setenv", "TRAINLAB_SANDBOX_TAG", tag]
    argv += ["--ro-bind", str(p["exe"]), str(p["exe"]),
             "--ro-bind", str(p["stdlib"]), str(p["stdlib"])]
    site = p["stdlib"] / "site-packages"
    if site.is_dir():
        argv += ["--tmpfs", str(site)]
    if "libpython" in p:
        argv += ["--ro-bind", str(p["libpython"]), str(p["libpython"])]
    for folder in _system_libraries():
        argv += ["--ro-bind", folder, folder]
    if os.path.isdir("/etc/alternatives"):  # Debian's libblas.so.3 & co. point through it
        argv += ["--ro-bind", "/etc/alternatives", "/etc/alternatives"]
    for link in ("/lib", "/lib64"):
        if os.path.islink(link):
            argv += ["--symlink", os.readlink(link), link]
    argv += ["--ro-bind", str(p["numpy"]), f"{INSIDE}/numpy"]
    if "numpy.libs" in p:
        argv += ["--ro-bind", str(p["numpy.libs"]), f"{INSIDE}/numpy.libs"]
    argv += ["--ro-bind", str(sandbox_py), f"{INSIDE}/sandbox.py",
             "--size", str(WORK_BYTES), "--tmpfs", "/work", "--chdir", "/work",
             "--proc", "/proc", "--dev", "/dev"]
    if seccomp_fd is not None:
        argv += ["--seccomp", str(seccomp_fd)]
    return [*argv, str(p["exe"]), "-I", "-S", "-c", BOOTSTRAP, *args]


def seccomp_pipe() -> int | None:
    """A readable fd holding the seccomp program (bubblewrap reads it to the end), or None."""
    program = seccomp_filter()
    if program is None:
        return None
    r, w = os.pipe()
    os.write(w, program)  # a few hundred bytes: fits the pipe's buffer
    os.close(w)
    return r


@functools.cache
def problem() -> str:
    """Why the sandbox cannot run here ("" when it can): checked once per process by starting
    it with a probe that must import NumPy, see no network and start no process."""
    if sys.platform != "linux":
        return f"bubblewrap needs Linux (this is {sys.platform})"
    for tool, package in (("bwrap", "bubblewrap"), ("prlimit", "util-linux")):
        if shutil.which(tool) is None:
            return (f"`{tool}` is not installed (Debian/Ubuntu: apt-get install -y {package})")
    probe = Path(__file__).with_name("sandbox.py")
    fd = seccomp_pipe()
    argv = command(2**31, 10, fd, probe, ["--probe"])
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                             pass_fds=() if fd is None else (fd,), stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap could not be started: {exc}"
    finally:
        if fd is not None:
            os.close(fd)
    if out.returncode != 0 or out.stdout.strip() != "isolated":
        detail = (out.stderr.strip() or out.stdout.strip())[-300:]
        return (f"bubblewrap did not start a working sandbox (exit status {out.returncode}: "
                f"{detail}); user namespaces may be disabled "
                f"(sysctl kernel.unprivileged_userns_clone / user.max_user_namespaces)")
    return ""
