"""Running the top-level scripts as processes without paying the interpreter's start-up every time.

Most program tests run ``train.py``, ``test.py`` or ``eval.py`` as a user
does: a new process, its arguments, its exit status, stdout and stderr, the
files it writes. Each such process spends most of a second or two starting
Python and importing torch before the script does anything, and the suite
runs a few hundred of them.

:func:`run` gives the same process boundary for less: a *zygote* process,
started once per test worker, imports the heavy libraries (torch and its
``_dynamo``, which torch's optimizers import, numpy, soundfile, matplotlib,
TensorBoard, musdb, museval, scipy; nothing of ``openunmix``) and then forks
one child per run. The
child takes the run's working directory, environment, argument vector and
standard streams (stdin from ``/dev/null``, stdout and stderr to files),
runs the script as ``__main__`` (with the allocator setting that the scripts
otherwise re-execute themselves to get, :mod:`openunmix.commands.runtime`), ends the way the interpreter would (exit
status from ``SystemExit``; a traceback and status 1 for an uncaught
exception; atexit handlers and non-daemon threads finished), and writes its
status to a file. The test process waits for it and returns a
``subprocess.CompletedProcess`` like ``subprocess.run(capture_output=True,
text=True)`` does.

A run whose environment sets a variable that the libraries read when they
are imported (``OMP_NUM_THREADS``, ``ATEN_CPU_CAPABILITY``, ... :data:`_IMPORT_TIME`)
to another value than the zygote had gets a fresh interpreter instead.

The child is a real process: it cannot change the test process or later
runs; module state, signal handlers, threads and files are its own. What it
shares with a fresh interpreter is only the import of the libraries above,
done once before any run. Tests about start-up itself (the import time, the
modules a script imports, Ctrl-C while torch is imported) start their own
interpreter with :mod:`subprocess`.

``UMX_TEST_FRESH_PROCESSES=1`` runs every script in a fresh interpreter
instead (what this replaces), to rule the zygote out when a test fails.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

# the zygote: imports, then serves one JSON request per line on stdin, answering the child's pid on stdout
_ZYGOTE = r"""
import json, os, signal, sys
import numpy, soundfile, torch  # noqa: F401  (the start-up shared by every child)
for name in ("torch._dynamo", "torch.utils.tensorboard", "matplotlib.figure", "matplotlib.backends.backend_agg",
             "musdb", "museval", "scipy.signal", "soxr", "tqdm"):
    try:  # what the scripts import on their way (torch's optimizers import torch._dynamo: 2.5 s)
        __import__(name)
    except ImportError:
        pass
# the interpreter's own path, without what this process's PYTHONPATH added (a child takes its own)
own = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
base = [p for p in sys.path[1:] if p not in own]
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel: nobody waits for them here
requests, answers = sys.stdin.buffer, sys.stdout.buffer
for line in iter(requests.readline, b""):
    req = json.loads(line)
    sys.stdout.flush(); sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        exec(compile(req["child"], "<umx-test-child>", "exec"), {"req": req, "base": base})
        os._exit(70)  # not reached: the child ends with os._exit
    answers.write(json.dumps({"pid": pid}).encode() + b"\n"); answers.flush()
"""

# the child's side: take the run's process state, run the script as __main__, end as the interpreter would
_CHILD = r"""
import atexit, faulthandler, os, runpy, sys, threading, traceback
os.setpgid(0, 0)  # its own process group: a timeout kills the run and anything it started
os.chdir(req["cwd"])
os.environ.clear(); os.environ.update(req["env"])
for fd, path, flags in ((0, req["stdin"] or os.devnull, os.O_RDONLY), (1, req["stdout"], os.O_WRONLY),
                        (2, req["stderr"], os.O_WRONLY)):
    f = os.open(path, flags); os.dup2(f, fd); os.close(f)
faulthandler.enable()
sys.argv = list(req["argv"])
# the path a new interpreter would have: the script's folder (python -m: the working directory), this run's
# PYTHONPATH, then the interpreter's own
first = os.getcwd() if req["module"] else os.path.dirname(os.path.abspath(req["argv"][0]))
sys.path[:] = [first] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p] + base
code = 0
try:
    if req["module"]:
        runpy.run_module(req["module"], run_name="__main__", alter_sys=True)
    else:
        runpy.run_path(req["argv"][0], run_name="__main__")
except SystemExit as err:
    if err.code is None:
        code = 0
    elif isinstance(err.code, int):
        code = err.code
    else:
        print(err.code, file=sys.stderr); code = 1
except KeyboardInterrupt:
    traceback.print_exc(); code = 130
except BaseException:
    traceback.print_exc(); code = 1
try:
    threading._shutdown()  # non-daemon threads finish, as at the interpreter's exit
    atexit._run_exitfuncs()
finally:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    with open(req["status"] + ".tmp", "w") as f:
        f.write(str(code & 0xFF))
    os.rename(req["status"] + ".tmp", req["status"])
    os._exit(code & 0xFF)
"""


class _Zygote:
    """The zygote process of this test worker and the lock that serialises requests to it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.proc: Optional[subprocess.Popen] = None
        self.owner = -1  # the pid that started it (a forked test process must start its own)

    def spawn(self, request: Dict[str, Any]) -> int:
        with self.lock:
            if self.proc is None or self.proc.poll() is not None or self.owner != os.getpid():
                self.proc = subprocess.Popen([sys.executable, "-c", _ZYGOTE], stdin=subprocess.PIPE,
                                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                             env=dict(os.environ, **_ALLOCATOR))
                self.owner = os.getpid()
            assert self.proc.stdin is not None and self.proc.stdout is not None
            self.proc.stdin.write(json.dumps(dict(request, child=_CHILD)).encode() + b"\n")
            self.proc.stdin.flush()
            answer = self.proc.stdout.readline()
            if not answer:
                raise RuntimeError("the test launcher's zygote died")
            return int(json.loads(answer)["pid"])


_zygote = _Zygote()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# read by the libraries when the zygote imports them: a run that sets them otherwise gets a fresh interpreter
_IMPORT_TIME = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA",
                "MKL_ENABLE_INSTRUCTIONS", "CUDA_VISIBLE_DEVICES",
                "MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "PYTHONHASHSEED", "PYTHONWARNINGS")

# the scripts re-execute themselves once with this glibc setting (openunmix/commands/runtime.py); the zygote
# starts with it, so its children have the allocator that re-execution gives and carry on without re-executing
_ALLOCATOR = {"MALLOC_MMAP_THRESHOLD_": str(1 << 40)}


def run_module(module: str, args: Sequence[Any], cwd: Optional[os.PathLike] = None, timeout: float = 300,
               env: Optional[Dict[str, str]] = None, input: Optional[Union[str, bytes]] = None,
               text: bool = True) -> subprocess.CompletedProcess:
    """``python -m module args...`` as :func:`run` runs a script."""
    return run(["-m", module, *args], cwd=cwd, timeout=timeout, env=env, input=input, text=text)


def run(argv: Sequence[Any], cwd: Optional[os.PathLike] = None, timeout: float = 300,
        env: Optional[Dict[str, str]] = None, input: Optional[Union[str, bytes]] = None,
        text: bool = True) -> subprocess.CompletedProcess:
    """Run the Python script ``argv[0]`` with arguments ``argv[1:]`` (or ``-m MODULE ...``) as a new
    process; returns what ``subprocess.run(capture_output=True, text=text)`` returns. ``env``: the
    environment (default: this process's); ``input``: its standard input (default: none; bytes when
    ``text`` is False). ``subprocess.TimeoutExpired`` after ``timeout`` seconds (the run is killed)."""
    argv = [str(a) for a in argv]
    env = dict(os.environ if env is None else env)
    cwd = str(cwd) if cwd is not None else os.getcwd()
    zygote_env = dict(os.environ, **_ALLOCATOR)
    if os.environ.get("UMX_TEST_FRESH_PROCESSES") == "1" or any(
            env.get(k, zygote_env.get(k)) != zygote_env.get(k) for k in _IMPORT_TIME):
        return subprocess.run([sys.executable, *argv], cwd=cwd, env=env, capture_output=True, text=text,
                              timeout=timeout, input=input)
    module = None
    if argv[0] == "-m":
        module, argv = argv[1], [argv[1], *argv[2:]]
    with tempfile.TemporaryDirectory(prefix="umx-run-") as tmp:
        files = {name: str(Path(tmp) / name) for name in ("stdout", "stderr", "status")}
        for name in ("stdout", "stderr"):
            Path(files[name]).touch()
        files["stdin"] = None
        if input is not None:
            files["stdin"] = str(Path(tmp) / "stdin")
            if isinstance(input, bytes):
                Path(files["stdin"]).write_bytes(input)
            else:
                Path(files["stdin"]).write_text(input)
        files["module"] = module
        if env.get("OPENUNMIX_NO_REEXEC") is None:
            env = dict(_ALLOCATOR, **env)
        pid = _zygote.spawn({"argv": argv, "cwd": cwd, "env": env, **files})
        deadline = time.monotonic() + timeout
        delay = 0.002
        while _alive(pid):
            if time.monotonic() > deadline:
                _kill_group(pid)
                raise subprocess.TimeoutExpired([sys.executable, *argv], timeout,
                                                Path(files["stdout"]).read_text(), Path(files["stderr"]).read_text())
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        status = Path(files["status"])
        # no status file: the child was killed by a signal before it could write one (as Popen: -signal)
        code = int(status.read_text()) if status.is_file() else -signal.SIGKILL
        out: Union[str, bytes] = Path(files["stdout"]).read_bytes()
        err: Union[str, bytes] = Path(files["stderr"]).read_bytes()
        if text:
            out, err = out.decode(errors="replace"), err.decode(errors="replace")
    return subprocess.CompletedProcess([sys.executable, *argv], code, out, err)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


__all__: List[str] = ["run", "run_module"]
