"""Train the same recurrent networks with rnnlearn and with PyTorch (CPU) and compare.

One command::

    python benchmarks/bench_vs_torch.py                 # the 9 cases (about 12 minutes)
    python benchmarks/bench_vs_torch.py --quick         # smoke test (well under a minute)
    python benchmarks/bench_vs_torch.py --scaling       # also the LSTM scaling in T and n
    python benchmarks/bench_vs_torch.py --cases lstm --json benchmarks/results/lstm.json

Protocol. Both frameworks train in one process with the same thread count (``--threads``,
default all usable cores), set by ``threadpoolctl.threadpool_limits`` for every native pool
(numpy's BLAS among them) and ``torch.set_num_threads``. Everything is float32, plain SGD
(learning rate 0.1, momentum 0.9), shuffled minibatches. rnnlearn runs one warm-up epoch
(``partial_fit``); its weights are copied into the PyTorch model and the outputs of both
compared. PyTorch runs one warm-up epoch, then gets rnnlearn's weights again and its SGD
velocity as momentum buffers, so both train on from the same point. Timed epochs then
alternate rnnlearn, PyTorch, rnnlearn, ... with a 0.15 s pause before each (so that the
other framework's BLAS / OpenMP threads have stopped spinning); the table shows the median
seconds per epoch.
Inference is ``predict`` over the training set in batches of 1024 (PyTorch: forward in
``inference_mode`` plus the same link / argmax), alternating likewise. The final loss is
each framework's mean training loss over its last epoch (batch losses weighted by batch
size), defined alike on both sides: binary cross-entropy per step, half mean squared error,
softmax cross-entropy. (PyTorch's recurrent layers carry two biases whose sum is rnnlearn's
one, so with SGD that sum moves twice as fast: same model, slightly different dynamics.)

Peak memory. Each framework and case runs again in a fresh subprocess that imports only
that framework, builds the data and the model, trains one epoch and predicts once (so that
code, lazily built kernels and allocator pools are in place). Then, for one more epoch and
for one more predict pass separately, it resets the kernel's resident-set high-water mark
(``/proc/self/clear_refs``) and reports that mark's rise above the resident set just
before. The method is the same for both frameworks and sees every allocator (PyTorch's CPU
allocations do not reach ``tracemalloc``); for rnnlearn the ``tracemalloc`` peaks of the
same work are recorded too (JSON), as a cross-check. With ``--quick`` one subprocess per
framework runs the cases in turn.

Timings with more than one thread are very sensitive to other processes on the machine
(a parallel region waits for its slowest thread): run on an idle machine; the load average
is printed and stored, and the JSON keeps every epoch's time.
"""

# SPDX-License-Identifier: BSD-3-Clause

import argparse
import contextlib
import ctypes
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

LEARNING_RATE = 0.1
MOMENTUM = 0.9
PREDICT_BATCH = 1024
SEED = 0
# Idle time before every timed section. After a BLAS call OpenBLAS's worker threads spin for
# about 0.1 s before they sleep; a PyTorch epoch started at once runs on a busy core (measured
# 2x slower on short epochs). The pause lets the other framework's threads go idle.
PAUSE = 0.15
CELLS = ("vanilla", "gru", "lstm")


@dataclass(frozen=True)
class Case:
    """One workload with one cell."""

    task: str  # "addition", "sine" or "classify"
    cell: str  # "vanilla", "gru" or "lstm"
    n_samples: int
    n_timesteps: int
    n_hidden: int
    batch_size: int

    @property
    def name(self):
        return f"{self.task}-{self.cell}"


# task -> (n_samples, n_timesteps, n_hidden, batch_size), full size and --quick size
TASKS = {
    "addition": ((10_000, 8, 16, 32), (1_024, 8, 16, 32)),
    "sine": ((4_096, 50, 64, 64), (256, 50, 64, 64)),
    "classify": ((4_096, 100, 128, 64), (128, 100, 128, 64)),
}
SCALING_T = ((50, 200, 800), 1_024)  # LSTM on the sine task: T grows at fixed n
SCALING_N = ((1_024, 4_096, 16_384), 50)  # n grows at fixed T
SCALING_QUICK_T = ((25, 50, 100), 128)
SCALING_QUICK_N = ((128, 256, 512), 25)


# --------------------------------------------------------------------------- data


def make_data(task, n_samples, n_timesteps, seed=SEED):
    """Return ``(X, y)``: X float32 ``(n, T, F)``, y as rnnlearn takes it.

    ``addition``: bits of two 7-bit integers, least significant first, y the bits of the
    sum ``(n, T)``. ``sine``: windows of a noisy sum of three sines, y the next value
    ``(n,)``. ``classify``: 8 channels oscillating at a class-dependent frequency in unit
    Gaussian noise, y the class in ``0..4``.
    """
    rng = np.random.default_rng(seed)
    if task == "addition":
        a, b = rng.integers(0, 128, size=(2, n_samples))
        shifts = np.arange(n_timesteps)
        X = np.stack([(a[:, None] >> shifts) & 1, (b[:, None] >> shifts) & 1], axis=-1)
        y = ((a + b)[:, None] >> shifts) & 1
        return X.astype(np.float32), y.astype(np.int64)
    if task == "sine":
        t = np.arange(n_samples + n_timesteps, dtype=np.float64)
        series = (
            np.sin(2 * np.pi * t / 25.0)
            + 0.5 * np.sin(2 * np.pi * t / 9.0 + 1.0)
            + 0.25 * np.sin(2 * np.pi * t / 4.3 + 2.0)
            + 0.1 * rng.standard_normal(t.size)
        )
        windows = np.lib.stride_tricks.sliding_window_view(series, n_timesteps + 1)
        X = windows[:n_samples, :n_timesteps, None]
        y = windows[:n_samples, n_timesteps]
        return np.ascontiguousarray(X, dtype=np.float32), y.astype(np.float32)
    if task == "classify":
        n_features, n_classes = 8, 5
        y = rng.integers(0, n_classes, size=n_samples)
        frequency = 0.04 + 0.03 * y  # cycles per step, one per class
        phase = np.pi / 4 * np.arange(n_features) + 0.5 * rng.standard_normal(
            (n_samples, 1, n_features)
        )  # a phase per channel, jittered per sample
        steps = np.arange(n_timesteps)[None, :, None]
        X = np.sin(2 * np.pi * frequency[:, None, None] * steps + phase)
        X += rng.standard_normal(X.shape)
        return X.astype(np.float32), y.astype(np.int64)
    raise ValueError(f"unknown task {task!r}")


def case_shape(case):
    """``(n_features, n_outputs, output_mode)`` of a case."""
    return {
        "addition": (2, 1, "sequence"),
        "sine": (1, 1, "last"),
        "classify": (8, 5, "last"),
    }[case.task]


# --------------------------------------------------------------------------- rnnlearn


class RnnlearnRunner:
    """rnnlearn's side: an estimator trained one epoch per ``partial_fit``."""

    name = "rnnlearn"

    def __init__(self, case, X, y, seed=SEED):
        from rnnlearn import RNNClassifier, RNNRegressor
        from rnnlearn.cells import GRUCell, LSTMCell, VanillaCell
        from rnnlearn.optimizers import SGD

        cell = {
            "vanilla": VanillaCell(),
            "gru": GRUCell(),
            "lstm": LSTMCell(forget_bias=0.0),
        }[case.cell]
        estimator = RNNRegressor if case.task == "sine" else RNNClassifier
        self.estimator = estimator(
            hidden_layer_sizes=(case.n_hidden,),
            cell=cell,
            output_mode=case_shape(case)[2],
            optimizer=SGD(learning_rate=LEARNING_RATE, momentum=MOMENTUM),
            batch_size=case.batch_size,
            shuffle=True,
            random_state=seed,
        )
        self.classify = case.task != "sine"
        self.X, self.y = X, y
        self.fitted = False

    def train_epoch(self):
        """One epoch; return its mean training loss."""
        extra = {}
        if self.classify and not self.fitted:
            extra["classes"] = np.unique(self.y)
        self.estimator.partial_fit(self.X, self.y, **extra)
        self.fitted = True
        return float(self.estimator.loss_curve_[-1])

    def predict(self, X):
        return self.estimator.predict(X)

    def output(self, X):
        """Predicted probability (of class 1 when binary) or value, for the weight check."""
        if not self.classify:
            return np.asarray(self.estimator.predict(X), dtype=np.float64).reshape(len(X), -1)
        proba = np.asarray(self.estimator.predict_proba(X), dtype=np.float64)
        if proba.shape[-1] == 2:  # binary: keep P(class 1)
            proba = proba[..., 1]
        return proba.reshape(len(X), -1)

    def coefs(self):
        """Copies of the fitted ``coefs_`` (one dict per layer, then the head)."""
        return [{k: np.array(v) for k, v in layer.items()} for layer in self.estimator.coefs_]

    def velocity(self):
        """SGD's velocity laid out like ``coefs_``, or ``None`` (it is private state)."""
        try:
            flat = self.estimator._optimizer_state["velocity"]
            return [
                {k: np.array(v) for k, v in layer.items()}
                for layer in self.estimator._network.unpack(flat)
            ]
        except (AttributeError, KeyError):
            return None

    def status(self):
        return self.estimator.history_[-1]["status"]


# --------------------------------------------------------------------------- PyTorch


def import_torch():
    """Return the ``torch`` module, or ``None`` when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    return torch


class TorchRunner:
    """PyTorch's side: ``nn.RNN`` / ``nn.GRU`` / ``nn.LSTM`` + ``nn.Linear``, manual batches."""

    name = "torch"

    def __init__(self, case, X, y, seed=SEED):
        import torch
        from torch import nn

        self.torch = torch
        torch.manual_seed(seed)
        n_features, n_outputs, output_mode = case_shape(case)
        recurrent = {"vanilla": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[case.cell]
        self.rnn = recurrent(n_features, case.n_hidden, batch_first=True)  # nn.RNN: tanh
        self.head = nn.Linear(case.n_hidden, n_outputs)
        self.last = output_mode == "last"
        self.parameters = list(self.rnn.parameters()) + list(self.head.parameters())
        self.task, self.batch_size = case.task, case.batch_size
        self.X = torch.from_numpy(X)
        if case.task == "addition":
            self.Y = torch.from_numpy(y.astype(np.float32)[..., None])  # (n, T, 1)
            self.loss_fn = nn.BCEWithLogitsLoss()
        elif case.task == "sine":
            self.Y = torch.from_numpy(y.astype(np.float32)[:, None])  # (n, 1)
            mse = nn.MSELoss()
            self.loss_fn = lambda raw, target: 0.5 * mse(raw, target)  # rnnlearn's half MSE
        else:
            self.Y = torch.from_numpy(y)  # (n,) int64
            self.loss_fn = nn.CrossEntropyLoss()
        self.generator = torch.Generator().manual_seed(seed)
        self.optimizer = torch.optim.SGD(self.parameters, lr=LEARNING_RATE, momentum=MOMENTUM)
        self.last_loss = None

    def forward(self, X):
        out, _ = self.rnn(X)
        if self.last:
            out = out[:, -1]
        return self.head(out)

    def train_epoch(self):
        """One epoch over a fresh permutation; return its mean training loss."""
        torch = self.torch
        n = self.X.shape[0]
        order = torch.randperm(n, generator=self.generator)
        total = torch.zeros(())
        for start in range(0, n, self.batch_size):
            index = order[start : start + self.batch_size]
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.loss_fn(self.forward(self.X[index]), self.Y[index])
            loss.backward()
            self.optimizer.step()
            total += loss.detach() * index.numel()
        self.last_loss = float(total) / n
        return self.last_loss

    def status(self):
        return "ok" if self.last_loss is None or np.isfinite(self.last_loss) else "diverged"

    def predict(self, X):
        """Labels (classification) or values, as rnnlearn's ``predict`` returns them."""
        with self.torch.inference_mode():
            raw = self.forward(self.torch.from_numpy(X))
            if self.task == "addition":
                return (raw[..., 0] > 0).to(self.torch.int64).numpy()
            if self.task == "classify":
                return raw.argmax(-1).numpy()
            return raw[:, 0].numpy()

    def output(self, X):
        with self.torch.inference_mode():
            raw = self.forward(self.torch.from_numpy(X))
            if self.task == "addition":
                raw = self.torch.sigmoid(raw)
            elif self.task == "classify":
                raw = self.torch.softmax(raw, -1)
            return raw.double().numpy().reshape(len(X), -1)

    def _torch_layout(self, coefs):
        """rnnlearn's ``coefs_`` (or anything laid out alike) as PyTorch tensors, by name."""
        torch = self.torch
        layer, head = coefs
        tensors = {
            "weight_ih_l0": layer["W_x"].T,
            "weight_hh_l0": layer["W_h"].T,
            "bias_ih_l0": layer["b"],
            "bias_hh_l0": np.zeros_like(layer["b"]),
            "weight": head["W"].T,
            "bias": head["b"],
        }
        if "b_hn" in layer:  # GRU with the reset after the product: the n block of bias_hh
            tensors["bias_hh_l0"][-layer["b_hn"].shape[0] :] = layer["b_hn"]
        return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in tensors.items()}

    def load(self, coefs, velocity=None):
        """Set weights from rnnlearn's ``coefs_`` and restart the optimizer.

        With ``velocity`` (rnnlearn's SGD velocity, laid out like ``coefs_``) the momentum
        buffers start from it; PyTorch's two recurrent biases, whose sum is rnnlearn's ``b``,
        have each seen the same gradients, so both buffers get ``b``'s velocity.
        """
        named = dict(self.rnn.named_parameters()) | dict(self.head.named_parameters())
        with self.torch.no_grad():
            for name, value in self._torch_layout(coefs).items():
                named[name].copy_(value)
        self.optimizer = self.torch.optim.SGD(self.parameters, lr=LEARNING_RATE, momentum=MOMENTUM)
        if velocity is not None:
            buffers = self._torch_layout(velocity)
            if "b_hn" not in velocity[0]:
                buffers["bias_hh_l0"] = buffers["bias_ih_l0"].clone()
            else:
                n_hidden = velocity[0]["b_hn"].shape[0]
                buffers["bias_hh_l0"][: 2 * n_hidden] = buffers["bias_ih_l0"][: 2 * n_hidden]
            for name, value in buffers.items():
                self.optimizer.state[named[name]]["momentum_buffer"] = value.clone()


# --------------------------------------------------------------------------- timing


def timed(function, *args):
    time.sleep(PAUSE)
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def predict_all(runner, X):
    for start in range(0, len(X), PREDICT_BATCH):
        runner.predict(X[start : start + PREDICT_BATCH])


def compare_case(case, n_epochs, n_repeats, use_torch):
    """Time one case, alternating the frameworks; return a result dict."""
    X, y = make_data(case.task, case.n_samples, case.n_timesteps)
    runners = [RnnlearnRunner(case, X, y)]
    result = {"case": case.name, **asdict(case)}
    gc.collect()
    gc.freeze()  # the imported modules' objects: a full collection would scan them (~0.2 s)
    warm, _ = timed(runners[0].train_epoch)
    result["rnnlearn_warmup_s"] = warm
    if use_torch:
        torch_runner = TorchRunner(case, X, y)
        start, velocity = runners[0].coefs(), runners[0].velocity()
        torch_runner.load(start)
        probe = X[:256]
        result["max_abs_output_diff_at_copy"] = float(
            np.max(np.abs(runners[0].output(probe) - torch_runner.output(probe)))
        )
        result["torch_warmup_s"] = timed(torch_runner.train_epoch)[0]
        torch_runner.load(start, velocity)  # back to rnnlearn's weights and momentum
        result["momentum_copied"] = velocity is not None
        runners.append(torch_runner)
    for runner in runners:
        result[f"{runner.name}_epoch_s"], result[f"{runner.name}_losses"] = [], []
        result[f"{runner.name}_predict_s"] = []
    for _ in range(n_epochs):
        for runner in runners:
            seconds, loss = timed(runner.train_epoch)
            result[f"{runner.name}_epoch_s"].append(seconds)
            result[f"{runner.name}_losses"].append(loss)
    for runner in runners:
        predict_all(runner, X)  # warm-up
    for _ in range(n_repeats):
        for runner in runners:
            result[f"{runner.name}_predict_s"].append(timed(predict_all, runner, X)[0])
    for runner in runners:
        name = runner.name
        result[f"{name}_s_per_epoch"] = statistics.median(result[f"{name}_epoch_s"])
        result[f"{name}_s_per_epoch_min"] = min(result[f"{name}_epoch_s"])
        result[f"{name}_samples_per_s"] = len(X) / statistics.median(result[f"{name}_predict_s"])
        result[f"{name}_final_loss"] = result[f"{name}_losses"][-1]
        result[f"{name}_status"] = runner.status()
    return result


# --------------------------------------------------------------------------- memory


def _rss_kib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(f"{field} not in /proc/self/status")


def _release_free_memory():
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # give freed heap back to the system


def _peak_of(work):
    """Peak resident-set growth (MiB) while ``work()`` runs, and the method used."""
    _release_free_memory()
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # reset the peak resident set (VmHWM) to the current one
        baseline = _rss_kib("VmRSS")
        work()
        return (_rss_kib("VmHWM") - baseline) / 1024, "VmHWM after clear_refs"
    except OSError:  # not Linux: the process-lifetime maximum, a lower bound
        import resource

        unit = 1 if sys.platform == "darwin" else 1024
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit
        work()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit
        return (peak - baseline) / 2**20, "ru_maxrss delta (lower bound)"


def memory_worker(spec):
    """In a fresh process: peak memory of one epoch and of one predict pass, per case."""
    import tracemalloc

    results = []
    with threadpool_limits(spec["threads"]):
        if spec["framework"] == "torch":
            import torch

            torch.set_num_threads(spec["threads"])
            runner_class = TorchRunner
        else:
            import rnnlearn  # noqa: F401

            runner_class = RnnlearnRunner
        for fields in spec["cases"]:
            case = Case(**fields)
            X, y = make_data(case.task, case.n_samples, case.n_timesteps)
            runner = runner_class(case, X, y)

            phases = {
                "train": runner.train_epoch,
                "predict": lambda runner=runner, X=X: predict_all(runner, X),
            }
            for work in phases.values():
                work()  # loads code and lazy kernels, fills pools, initialises rnnlearn
            out = {}
            for phase, work in phases.items():
                out[f"{phase}_mib"], out["method"] = _peak_of(work)
                if spec["framework"] == "rnnlearn":  # cross-check with tracemalloc
                    _release_free_memory()
                    tracemalloc.start()
                    current = tracemalloc.get_traced_memory()[0]
                    work()
                    peak = tracemalloc.get_traced_memory()[1]
                    out[f"{phase}_tracemalloc_mib"] = (peak - current) / 2**20
                    tracemalloc.stop()
            results.append(out)
            del runner, phases, work
    print(json.dumps(results))


def measure_memory(framework, cases, threads):
    """Peak memory of ``framework`` on each of ``cases``, in one fresh subprocess."""
    spec = {"framework": framework, "cases": [asdict(c) for c in cases], "threads": threads}
    completed = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--_memory-worker", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        return [{"error": completed.stderr.strip().splitlines()[-1:]}] * len(cases)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def attach_memory(results, cases, frameworks, args):
    """Add ``<framework>_memory`` to each result: a fresh process per case and framework
    (with ``--quick``, one process per framework runs every case in turn)."""
    groups = [cases] if args.quick else [[case] for case in cases]
    for framework in frameworks:
        memory = [m for group in groups for m in measure_memory(framework, group, args.threads)]
        for result, entry in zip(results, memory, strict=True):
            result[f"{framework}_memory"] = entry
    for result in results:
        add_ratios(result)


# --------------------------------------------------------------------------- reporting


def _git_revision(path):
    """``<short hash>[-dirty]`` of the checkout holding ``path``, or ``None``."""
    try:
        head = subprocess.run(
            ["git", "-C", path, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "-C", path, "status", "--porcelain", "--untracked-files=no", "."],
            capture_output=True,
            text=True,
        )
    except OSError:
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def environment(threads, torch):
    """What the figures depend on: machine, libraries, BLAS and threads."""
    blas = [
        {k: pool.get(k) for k in ("internal_api", "version", "architecture", "threading_layer")}
        | {"library": os.path.basename(pool["filepath"])}
        for pool in threadpool_info()
        if pool["user_api"] == "blas" and "numpy" in pool["filepath"]
    ]
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
    except (OSError, StopIteration):
        pass
    env = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu,
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "threads": threads,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "numpy": np.__version__,
        "numpy_blas": blas,
        "blas_env": {
            name: os.environ.get(name)
            for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS")
        },
        "torch": None if torch is None else torch.__version__,
    }
    try:
        import rnnlearn

        env["rnnlearn"] = rnnlearn.__version__
        env["rnnlearn_git"] = _git_revision(os.path.dirname(rnnlearn.__file__))
    except ImportError:
        env["rnnlearn"] = None
    if torch is not None:
        env["torch_threads"] = torch.get_num_threads()
        env["torch_blas"] = "MKL" if torch.backends.mkl.is_available() else "other"
    return env


def print_environment(env):
    blas = ", ".join(
        f"{pool['internal_api']} {pool['version']} ({pool['architecture']}, "
        f"{pool['threading_layer']})"
        for pool in env["numpy_blas"]
    )
    blas_env = ", ".join(
        f"{k}={v if v is not None else 'unset'}" for k, v in env["blas_env"].items()
    )
    print(f"machine : {env['cpu']}, {env['usable_cores']} usable cores, {env['platform']}")
    print(f"threads : {env['threads']} for both (threadpoolctl for numpy, torch.set_num_threads)")
    print(f"numpy   : {env['numpy']}, BLAS {blas}; {blas_env}")
    if env["torch"] is None:
        print("torch   : not installed -- PyTorch columns skipped (pip install torch, CPU build)")
    else:
        print(f"torch   : {env['torch']} ({env['torch_blas']}), {env['torch_threads']} threads")
    load = env["load_average"]
    print(f"rnnlearn: {env['rnnlearn']} (git {env.get('rnnlearn_git')}); python {env['python']}")
    if load is not None:
        print(f"load    : {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1, 5, 15 min) at start")
        if load[0] > 0.5:
            print("WARNING: the machine is busy; timings with several threads will be noisy")


def _fmt(value, spec):
    if value is None:
        width = spec.split(".")[0].rstrip(",")
        return format("-", ">" + width)
    return format(value, spec)


def print_table(results):
    header = (
        f"{'case':<18}{'s/epoch rl':>11}{'torch':>8}{'ratio':>7}"
        f"{'infer/s rl':>12}{'torch':>10}{'ratio':>7}"
        f"{'train MiB rl':>13}{'torch':>7}{'ratio':>7}"
        f"{'pred MiB rl':>12}{'torch':>7}{'ratio':>7}"
        f"{'loss rl':>11}{'torch':>10}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        memory_rl, memory_pt = r.get("rnnlearn_memory", {}), r.get("torch_memory", {})
        cells = [
            (r.get("rnnlearn_s_per_epoch"), "11.3f"),
            (r.get("torch_s_per_epoch"), "8.3f"),
            (r.get("time_ratio"), "7.2f"),
            (r.get("rnnlearn_samples_per_s"), "12,.0f"),
            (r.get("torch_samples_per_s"), "10,.0f"),
            (r.get("inference_ratio"), "7.2f"),
            (memory_rl.get("train_mib"), "13.1f"),
            (memory_pt.get("train_mib"), "7.1f"),
            (r.get("train_memory_ratio"), "7.2f"),
            (memory_rl.get("predict_mib"), "12.1f"),
            (memory_pt.get("predict_mib"), "7.1f"),
            (r.get("predict_memory_ratio"), "7.2f"),
            (r.get("rnnlearn_final_loss"), "11.3g"),
            (r.get("torch_final_loss"), "10.3g"),
        ]
        print(f"{r['case']:<18}" + "".join(_fmt(value, spec) for value, spec in cells))
    diffs = [r[key] for r in results if (key := "max_abs_output_diff_at_copy") in r]
    if diffs:
        print(
            f"same model: with rnnlearn's weights copied, max |output difference| {max(diffs):.1e}"
        )
    for r in results:
        for name in ("rnnlearn", "torch"):
            if r.get(f"{name}_status", "ok") != "ok":
                print(f"WARNING: {name} {r[f'{name}_status']} on {r['case']}: time not valid")
            if "error" in r.get(f"{name}_memory", {}):
                print(f"WARNING: memory of {name} on {r['case']}: {r[f'{name}_memory']}")
    pairs = [
        (m[f"{phase}_mib"], m[f"{phase}_tracemalloc_mib"])
        for r in results
        if "error" not in (m := r.get("rnnlearn_memory", {"error": None}))
        for phase in ("train", "predict")
    ]
    if pairs:
        gap = max(abs(rss - traced) for rss, traced in pairs)
        print(f"rnnlearn's tracemalloc peaks agree with its RSS peaks within {gap:.1f} MiB")
    print(
        "ratios are rnnlearn/PyTorch: time per epoch (< 1: rnnlearn faster), inference "
        "samples/s (> 1: rnnlearn faster),\npeak memory growth while training one epoch / "
        "predicting once (< 1: rnnlearn smaller)."
    )


def add_ratios(result):
    def ratio(a, b):
        return None if a is None or b is None or b == 0 else a / b

    result["time_ratio"] = ratio(
        result.get("rnnlearn_s_per_epoch"), result.get("torch_s_per_epoch")
    )
    result["inference_ratio"] = ratio(
        result.get("rnnlearn_samples_per_s"), result.get("torch_samples_per_s")
    )
    for phase in ("train", "predict"):
        result[f"{phase}_memory_ratio"] = ratio(
            result.get("rnnlearn_memory", {}).get(f"{phase}_mib"),
            result.get("torch_memory", {}).get(f"{phase}_mib"),
        )


def print_targets(results):
    """The targets of issue 5, checked on this run."""
    times = [r["time_ratio"] for r in results if r.get("time_ratio") is not None]
    if not times:
        return
    infer = [r["inference_ratio"] for r in results if r.get("inference_ratio") is not None]
    memory = [
        r[f"{phase}_memory_ratio"]
        for r in results
        for phase in ("train", "predict")
        if r.get(f"{phase}_memory_ratio") is not None
    ]
    checks = [
        ("time ratio <= 1.0 on every case", max(times), max(times) <= 1.0),
        ("median time ratio <= 0.5", statistics.median(times), statistics.median(times) <= 0.5),
        ("inference ratio >= 1.0 on every case", min(infer), min(infer) >= 1.0),
    ]
    if memory:
        checks.append(("peak memory ratio <= 1.5", max(memory), max(memory) <= 1.5))
    for label, value, ok in checks:
        print(f"  [{'met' if ok else 'MISSED'}] {label}: {value:.2f}")


def print_scaling(rows):
    header = (
        f"{'sweep':<6}{'T':>5}{'n':>7}{'s/epoch rl':>12}{'torch':>9}"
        f"{'us/(sample*step) rl':>21}{'torch':>8}{'train MiB rl':>14}{'torch':>8}"
        f"{'pred MiB rl':>13}{'torch':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        steps = r["n_samples"] * r["n_timesteps"]
        t_rl, t_pt = r.get("rnnlearn_s_per_epoch"), r.get("torch_s_per_epoch")
        print(
            f"{r['sweep']:<6}{r['n_timesteps']:>5}{r['n_samples']:>7}"
            f"{_fmt(t_rl, '12.3f')}{_fmt(t_pt, '9.3f')}"
            f"{_fmt(None if t_rl is None else 1e6 * t_rl / steps, '21.2f')}"
            f"{_fmt(None if t_pt is None else 1e6 * t_pt / steps, '8.2f')}"
            f"{_fmt(r.get('rnnlearn_memory', {}).get('train_mib'), '14.1f')}"
            f"{_fmt(r.get('torch_memory', {}).get('train_mib'), '8.1f')}"
            f"{_fmt(r.get('rnnlearn_memory', {}).get('predict_mib'), '13.1f')}"
            f"{_fmt(r.get('torch_memory', {}).get('predict_mib'), '8.1f')}"
        )
    print(
        "linear cost: us/(sample*step) stays flat; memory grows with T (caches for "
        "backpropagation through time), not with n (minibatches)."
    )


# --------------------------------------------------------------------------- main


def select_cases(tokens, quick):
    cases = []
    for task, (full, small) in TASKS.items():
        n, T, H, B = small if quick else full
        for cell in CELLS:
            case = Case(task, cell, n, T, H, B)
            if not tokens or any(tok in (case.name, task, cell) for tok in tokens):
                cases.append(case)
    return cases


def scaling_cases(quick):
    (t_values, t_n), (n_values, n_t) = (
        (SCALING_QUICK_T, SCALING_QUICK_N) if quick else (SCALING_T, SCALING_N)
    )
    _, _, H, B = TASKS["sine"][0]
    base = Case("sine", "lstm", 0, 0, H, B)
    rows = [("T", replace(base, n_samples=t_n, n_timesteps=T)) for T in t_values]
    rows += [("n", replace(base, n_samples=n, n_timesteps=n_t)) for n in n_values]
    return rows


def run_cases(cases, args, use_torch, label):
    """Time every case, then measure memory; return the result dicts."""
    results = []
    for case in cases:
        print(f"  {label}{case.name} T={case.n_timesteps} n={case.n_samples}", file=sys.stderr)
        results.append(compare_case(case, args.epochs, args.repeats, use_torch))
    if not args.no_memory:
        print(f"  {label}memory ...", file=sys.stderr)
        attach_memory(results, cases, ("rnnlearn", "torch") if use_torch else ("rnnlearn",), args)
    else:
        for result in results:
            add_ratios(result)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small data, 3 epochs (smoke test)")
    parser.add_argument("--threads", type=int, default=None, help="threads (default: all cores)")
    parser.add_argument("--cases", nargs="*", default=[], help="names, tasks or cells to run")
    parser.add_argument("--epochs", type=int, default=None, help="timed epochs (default 5; 3)")
    parser.add_argument("--repeats", type=int, default=None, help="timed predict passes")
    parser.add_argument("--scaling", action="store_true", help="also the LSTM scaling sweeps")
    parser.add_argument("--scaling-only", action="store_true", help="only the scaling sweeps")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory subprocesses")
    parser.add_argument("--no-torch", action="store_true", help="rnnlearn only")
    parser.add_argument("--json", metavar="PATH", help="also write all results as JSON")
    parser.add_argument("--_memory-worker", dest="memory_worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_worker:
        memory_worker(json.loads(args.memory_worker))
        return
    if args.threads is None:
        args.threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    args.epochs = args.epochs or (3 if args.quick else 5)
    args.repeats = args.repeats or (3 if args.quick else 5)
    torch = None if args.no_torch else import_torch()
    use_torch = torch is not None
    if torch is None and not args.no_torch:
        print("PyTorch is not installed: printing rnnlearn's figures only.\n")
    with threadpool_limits(args.threads):
        if torch is not None:
            torch.set_num_threads(args.threads)
        env = environment(args.threads, torch)
        print_environment(env)
        out = {"environment": env, "settings": vars(args) | {"memory_worker": None}}
        if not args.scaling_only:
            results = run_cases(select_cases(args.cases, args.quick), args, use_torch, "")
            print(
                f"\n{args.epochs} timed epochs after 1 warm-up each (median shown), "
                f"{args.threads} threads, float32, SGD lr {LEARNING_RATE} momentum {MOMENTUM}\n"
            )
            print_table(results)
            print_targets(results)
            out["cases"] = results
        if args.scaling or args.scaling_only:
            sweeps = scaling_cases(args.quick)
            rows = run_cases([case for _, case in sweeps], args, use_torch, "scaling ")
            for (sweep, _), row in zip(sweeps, rows, strict=True):
                row["sweep"] = sweep
            case = sweeps[0][1]
            print(f"\nLSTM scaling (sine task, {case.n_hidden} hidden, batch {case.batch_size})\n")
            print_scaling(rows)
            out["scaling"] = rows
        env["load_average_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
