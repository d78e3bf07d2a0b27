"""The child side of grading: runs a learner's solution cells and calls their functions.

Started by :mod:`trainlab.checks.grading` for each question as ``sandbox.py READ_FD WRITE_FD``
in a fresh ``python -I -S`` inside bubblewrap (:mod:`trainlab.checks.isolation`: only Python
and NumPy visible, an empty private tmpfs as its folder, no network, no process creation,
resource limits) and a deadline set by the parent; or, with ``--unsafe`` where bubblewrap
cannot run, as a plain ``python -I sandbox.py`` in a temporary folder. ``sandbox.py --probe``
prints "isolated" when it runs inside the sandbox it should.

It imports only NumPy (never trainlab: run as a script, not as a module), blocks
the import of trainlab, torch and other libraries that would answer the exercises, discards
everything the learner's code prints, executes the solution cells, then answers the parent's
requests ``call(name, args)`` with the learner's return values.

It computes no reference and decides no score: the parent draws the inputs, computes the
references in its own process and compares. Whatever the learner's code patches here
(NumPy, builtins, frames) changes only the learner's own return values.

Messages are length-prefixed JSON in which arrays travel as ``.npy`` bytes (read back with
``allow_pickle=False``), so nothing the child sends can execute code in the parent.
"""

from __future__ import annotations

import builtins
import io
import json
import math
import os
import resource
import struct
import sys
import types
from typing import Any

import numpy as np

BLOCKED = ("trainlab", "torch", "sklearn", "scipy", "jax", "tensorflow", "keras", "nbgrader",
           "subprocess", "ctypes", "socket", "multiprocessing", "shutil")
MAX_MESSAGE = 512 * 2**20
MAX_REPLY = 64 * 2**20
"""The most data one call's return value (and its changed arguments) may carry back to the
grader: a function returning 4 x 400 MB is refused with a message, it never reaches it."""


def payload_bytes(obj: Any, depth: int = 0) -> int:
    """Bytes of the arrays in ``obj`` (lists, tuples and dicts looked into), before encoding."""
    if isinstance(obj, np.ndarray | np.generic):
        return int(np.asarray(obj).nbytes)
    if depth > 50:
        return 0
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, list | tuple):
        return sum(payload_bytes(v, depth + 1) for v in obj)
    return len(obj) if isinstance(obj, str | bytes) else 0


def encode(obj: Any, blobs: list[bytes], callbacks: dict[int, Any] | None = None) -> Any:
    """A JSON-able form of ``obj``; arrays go to ``blobs`` as .npy bytes, tuples and dicts are
    tagged, callables (parent side only) become callback handles."""
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, np.ndarray | np.generic):
        arr = np.asarray(obj)
        if arr.dtype == object:
            return {"$bad": "an array of Python objects"}
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=False)
        blobs.append(buf.getvalue())
        return {"$nd" if isinstance(obj, np.ndarray) else "$sc": len(blobs) - 1}
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return {"$f": float.__repr__(obj)}
    if isinstance(obj, tuple):
        return {"$tuple": [encode(v, blobs, callbacks) for v in obj]}
    if isinstance(obj, list):
        return [encode(v, blobs, callbacks) for v in obj]
    if isinstance(obj, dict) and all(isinstance(k, str) for k in obj):
        return {"$dict": {k: encode(v, blobs, callbacks) for k, v in obj.items()}}
    if isinstance(getattr(obj, "sandbox_handle", None), int):
        return {"$obj": obj.sandbox_handle}
    if callbacks is not None and callable(obj):
        callbacks[id(obj)] = obj
        return {"$cb": id(obj)}
    return {"$bad": type(obj).__name__}


class Unsendable:
    """Stands for a value of a type that cannot travel between the processes."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __repr__(self) -> str:
        return f"<{self.what}>"


def decode(obj: Any, blobs: list[bytes], make_callback: Any = None,
           make_object: Any = None) -> Any:
    """The value ``encode`` gave; ``make_object(key)`` stands for an instance of a class of the
    learner's that stays in the child (``{"$obj": key}``)."""
    if isinstance(obj, list):
        return [decode(v, blobs, make_callback, make_object) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "$f" in obj:
        return float(obj["$f"])
    if "$nd" in obj or "$sc" in obj:
        arr = np.load(io.BytesIO(blobs[int(obj.get("$nd", obj.get("$sc")))]),
                      allow_pickle=False)
        return arr if "$nd" in obj else arr[()]
    if "$tuple" in obj:
        return tuple(decode(v, blobs, make_callback, make_object) for v in obj["$tuple"])
    if "$dict" in obj:
        return {k: decode(v, blobs, make_callback, make_object) for k, v in obj["$dict"].items()}
    if "$cb" in obj and make_callback is not None:
        return make_callback(obj["$cb"])
    if "$obj" in obj and make_object is not None:
        return make_object(obj["$obj"])
    return Unsendable(obj.get("$bad", "unknown value"))


def frame(message: dict[str, Any], blobs: list[bytes]) -> bytes:
    """``message`` (JSON) and its array blobs as one length-prefixed byte string."""
    head = json.dumps(message).encode()
    parts = [struct.pack("<QQ", len(head), len(blobs)), head]
    for blob in blobs:
        parts += [struct.pack("<Q", len(blob)), blob]
    return b"".join(parts)


def send(stream: Any, message: dict[str, Any], blobs: list[bytes] | None = None) -> None:
    stream.write(frame(message, blobs or []))
    stream.flush()


def _exact(stream: Any, size: int) -> bytes:
    if size > MAX_MESSAGE:
        raise ValueError(f"message of {size} bytes is over the {MAX_MESSAGE} byte limit")
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the other side closed the channel")
    return data


def receive(stream: Any) -> tuple[dict[str, Any], list[bytes]]:
    size, count = struct.unpack("<QQ", _exact(stream, 16))
    message = json.loads(_exact(stream, size))
    blobs = [_exact(stream, struct.unpack("<Q", _exact(stream, 8))[0]) for _ in range(count)]
    return message, blobs


class _Blocker:
    """Import hook refusing the libraries that would do the exercise for the learner."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"`{name}` is not available while grading: solutions may use "
                              "NumPy and math only")
        return None


class _Discard(io.TextIOBase):
    def write(self, s: str) -> int:
        return len(s)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:500]}"


def _leave_only_the_standard_library() -> None:
    """Make every third-party package but the already imported NumPy physically unimportable:
    site-packages leave ``sys.path`` and non-standard finders (e.g. an editable install's)
    leave ``sys.meta_path``. NumPy's own submodules still resolve through ``numpy.__path__``.
    So a learner who removes the :class:`_Blocker` still finds no trainlab or torch."""
    import numpy.fft  # noqa: F401 - the submodules a solution may use, before the path goes
    import numpy.linalg  # noqa: F401
    import numpy.random  # noqa: F401

    stdlib = os.path.dirname(os.__file__)
    sys.path[:] = [p for p in sys.path if p.startswith(stdlib)
                   and "site-packages" not in p and "dist-packages" not in p]
    standard = ("BuiltinImporter", "FrozenImporter", "PathFinder")
    sys.meta_path[:] = [f for f in sys.meta_path if getattr(f, "__name__", type(f).__name__)
                        in standard]
    sys.path_importer_cache.clear()


class _Handle:
    """Stands, in a reply, for an object that stays in the child (an instance of a class the
    learner wrote: ``FullyConnectedNet(...)``); the parent calls its methods by this key."""

    def __init__(self, key: int) -> None:
        self.sandbox_handle = key


def _attribute(objects: list[Any], key: Any, name: Any) -> Any:
    if not isinstance(key, int) or not 0 <= key < len(objects) or not isinstance(name, str) \
            or name.startswith("_"):
        return None
    return getattr(objects[key], name, None)


def probe() -> None:
    """Print "isolated" if this process is in the sandbox it should be in (see
    :mod:`trainlab.checks.isolation`): NumPy works, unprivileged, no process, no network."""
    import socket

    np.ones(3).sum()
    try:
        os.fork()
    except OSError:
        pass
    else:
        os._exit(0)
        return
    try:
        socket.create_connection(("192.0.2.1", 9), timeout=1).close()
    except OSError as exc:
        if exc.errno not in (101, 99):  # ENETUNREACH, EADDRNOTAVAIL: no network at all
            return
    else:
        return
    if os.getuid() == 65534 and os.getcwd() == "/work" and os.listdir("/work") == []:
        print("isolated")


def main() -> None:
    if sys.argv[1:] == ["--probe"]:
        probe()
        return
    rfd, wfd = int(sys.argv[1]), int(sys.argv[2])
    inbox, outbox = os.fdopen(rfd, "rb"), os.fdopen(wfd, "wb")
    setup, _ = receive(inbox)
    memory = int(setup.get("memory_bytes", 0))
    if memory:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (2**20, 2**20))
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    sys.stdout = sys.stderr = _Discard()
    for name in list(sys.modules):
        if name.split(".")[0] in BLOCKED:
            del sys.modules[name]
    _leave_only_the_standard_library()
    sys.meta_path.insert(0, _Blocker())

    # a registered module: dataclasses (and typing) look a class's module up in sys.modules
    student = sys.modules["__student__"] = types.ModuleType("__student__")
    namespace: dict[str, Any] = student.__dict__
    namespace.update({"__builtins__": builtins, "np": np, "math": math})
    errors = {}
    for cell in setup["cells"]:
        try:
            exec(compile(cell["source"], f"<{cell['qid']}>", "exec"), namespace)
        except BaseException as exc:  # noqa: BLE001 - the learner's cell may raise anything
            errors[cell["qid"]] = _describe(exc)
    names = sorted(k for k, v in namespace.items() if callable(v) and not k.startswith("__"))
    send(outbox, {"ready": True, "errors": errors, "names": names})

    def make_callback(key: int) -> Any:
        def callback(*args: Any) -> Any:
            blobs: list[bytes] = []
            send(outbox, {"callback": key, "args": encode(list(args), blobs)}, blobs)
            reply, reply_blobs = receive(inbox)
            if "error" in reply:
                raise RuntimeError(reply["error"])
            return decode(reply["ok"], reply_blobs)
        return callback

    objects: list[Any] = []
    while True:
        try:
            request, blobs = receive(inbox)
        except EOFError:
            return
        if "attr" in request:               # an attribute of one of the learner's objects
            value = _attribute(objects, request["obj"], request["attr"])
            out: list[bytes] = []
            try:
                send(outbox, {"method": True} if callable(value) else
                     {"ok": encode(value, out)}, out)
            except BaseException as exc:  # noqa: BLE001 - an attribute that cannot travel
                send(outbox, {"raised": f"an unreadable attribute ({_describe(exc)})"})
            continue
        fn = namespace.get(request["call"]) if "obj" not in request else \
            _attribute(objects, request["obj"], request["call"])
        if not callable(fn):
            send(outbox, {"missing": request["call"]})
            continue
        args = decode(request["args"], blobs, make_callback, objects.__getitem__)
        kwargs = decode(request["kwargs"], blobs, make_callback, objects.__getitem__)
        before = [a.copy() if isinstance(a, np.ndarray) else None for a in args]
        try:
            result = fn(*args, **kwargs)
        except NotImplementedError as exc:
            send(outbox, {"not_implemented": _describe(exc)})
            continue
        except BaseException as exc:  # noqa: BLE001 - reported to the parent as the learner's
            send(outbox, {"raised": _describe(exc)})
            continue
        changed = [a if isinstance(a, dict) or (b is not None and not np.array_equal(
                       a, b, equal_nan=True)) else None for a, b in zip(args, before, strict=True)]
        if type(result).__module__ == "__student__":   # an instance of the learner's class
            objects.append(result)
            result = _Handle(len(objects) - 1)
        out = []
        try:
            size = payload_bytes(result) + payload_bytes(changed)
            if size > MAX_REPLY:
                send(outbox, {"raised": f"ValueError: the return value holds {size / 2**20:.0f} "
                                        f"MiB of arrays; the grader accepts at most "
                                        f"{MAX_REPLY / 2**20:g} MiB per call"})
                continue
            message = {"ok": encode(result, out), "args_after": encode(changed, out)}
        except BaseException as exc:  # noqa: BLE001 - e.g. a result whose __eq__ raises
            message, out = {"raised": f"an unreadable return value ({_describe(exc)})"}, []
        send(outbox, message, out)


if __name__ == "__main__":
    main()
