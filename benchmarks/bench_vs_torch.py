"""Train the same recurrent networks with rnnlearn and with PyTorch (CPU) and compare.

One command::

    python benchmarks/bench_vs_torch.py                 # everything at 1 and 2 threads (~25 min)
    python benchmarks/bench_vs_torch.py --quick         # smoke test (well under a minute)
    python benchmarks/bench_vs_torch.py --scaling       # also the LSTM scaling in T and n
    python benchmarks/bench_vs_torch.py --cases lstm --threads 2 --json benchmarks/results/lstm.json
    python benchmarks/bench_vs_torch.py --cases latency plaid --quick --threads 1 2

Cases. The 9 training cases (tasks ``addition``, ``sine``, ``classify`` x cells ``vanilla``,
``gru``, ``lstm``: seconds per epoch, inference throughput, peak memory); ``latency-<cell>``
(seconds per ``predict`` call on 1 and on 32 short sequences); ``plaid-lstm`` (one training
epoch and one prediction pass on 256 variable-length PLAID sequences, PyTorch on packed
batches). ``--cases`` takes names, tasks (``latency`` and ``plaid`` included) or cells.

Protocol. Everything runs once per thread count of ``--threads`` (default 1 and all usable
cores; with ``--quick`` all cores only), with the same count for both frameworks, set by
``threadpoolctl.threadpool_limits`` for every native pool (numpy's BLAS among them) and
``torch.set_num_threads``; each count prints its tables and targets, and a summary of the
ratios at each count ends the output. Everything is float32, plain SGD
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

Latency. A model of each cell is fitted one epoch on the sine task (T=50, 64 hidden) and its
weights copied into PyTorch. Each framework then predicts the same NumPy array of 1 and of
32 windows over and over: rnnlearn through its public ``predict``, PyTorch through
``torch.from_numpy`` + ``nn.RNN``/``nn.GRU``/``nn.LSTM`` + head in ``inference_mode`` (the
conversion is timed, as a user pays it). 200 calls per framework and size (20 with
``--quick``), after 10 untimed ones, in blocks that alternate between the frameworks; the
median seconds per call and the ratio rnnlearn/PyTorch (target: <= 1) are reported. ONNX
Runtime is a reference beside them: the estimator exported with ``rnnlearn.onnx.to_onnx``,
run by one ``InferenceSession`` on one thread (``intra_op_num_threads`` and
``inter_op_num_threads`` 1, at every ``--threads``), timed in the same alternating blocks,
with the ratio rnnlearn/ONNX Runtime (skipped, with a line saying so, when ``onnx`` or
``onnxruntime`` is missing).

Variable length. 256 sequences drawn with a fixed seed from ``PLAID_TRAIN.ts`` (lengths 100
to 1344, 1 channel, 11 classes; read with ``rnnlearn.datasets.load_ts`` from ``--data``,
default ``../shared/data`` beside the repository; skipped if absent), standardised, LSTM with
64 hidden units, batch 64. rnnlearn's ``RNNClassifier`` takes the list of arrays; PyTorch
pads each minibatch (``pad_sequence``), packs it (``pack_padded_sequence``,
``enforce_sorted=False``) and feeds each sequence's last valid state (``h_n``) to the head.
Epochs are timed as for the other cases, from the same copied weights and velocity;
prediction runs over the subset in consecutive slices of 64 sequences (PyTorch packing the
NumPy slices in the timed call). Reported: seconds per epoch and per prediction pass, with
ratios rnnlearn/PyTorch (targets: <= 1). ``--quick`` uses 16 sequences in batches of 8.
Memory is measured for the 9 training cases only.

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
is printed and stored, and the JSON keeps every epoch's time. On a shared machine,
``--cpu-time --threads 1`` times the epochs and prediction passes in the process's CPU
seconds instead, which other jobs disturb far less (latencies stay in wall time).

Throughput. Before and after the training cases the machine's sgemm peak is measured (NumPy's
float32 product of two 2048 x 2048 squares, best of 5, at the run's thread count; the better
of the two is kept), and each case's matrix products per epoch (``training_flops``) divided
by its seconds per epoch give GFLOP/s and a share of that peak, for both frameworks.
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
# The clock of the timed epochs and passes: wall time, or with --cpu-time the process's CPU
# time (all its threads'), which other jobs on a shared machine disturb far less.
CLOCK = time.perf_counter
CELLS = ("vanilla", "gru", "lstm")
GATES = {"vanilla": 1, "gru": 3, "lstm": 4}  # fused gate blocks of each cell's products
PEAK_SIZE, PEAK_REPEATS = 2_048, 5  # sgemm peak: best of 5 float32 products of 2048 x 2048


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
# Latency: models fitted one epoch on the sine task (n, T, hidden, batch), then ``predict`` on
# the first 1 and 32 windows; calls per batch size, full and --quick.
LATENCY_FIT = (256, 50, 64, 64)
LATENCY_BATCHES = (1, 32)
LATENCY_CALLS = (200, 20)
LATENCY_BLOCKS = (4, 2)  # the timed calls come in blocks, the frameworks alternating
LATENCY_WARMUP = 10  # untimed calls before each block
# Variable length: a fixed random subset of PLAID's training set, LSTM (n, hidden, batch), full
# and --quick; predict in slices of the batch size.
PLAID = ((256, 64, 64), (16, 64, 8))
PLAID_FILE = "PLAID_TRAIN.ts"
DATA_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data"
)


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


def load_plaid(data_dir, n_samples, seed=SEED):
    """``(X, y)`` from PLAID, or ``None`` when its file is absent.

    ``n_samples`` sequences drawn at random (fixed seed) from ``PLAID_TRAIN.ts``: X a list of
    float32 ``(n_timesteps_i, 1)`` arrays standardised with the subset's mean and standard
    deviation (PLAID's currents reach 450, which makes SGD diverge), y the classes as
    ``0..n_classes - 1`` in the order of their labels.
    """
    from rnnlearn.datasets import load_ts

    path = os.path.join(data_dir, PLAID_FILE)
    if not os.path.isfile(path):
        return None
    X, labels = load_ts(path)
    chosen = np.random.default_rng(seed).permutation(len(X))[:n_samples]
    X = [X[i] for i in chosen]
    values = np.concatenate(X)
    mean, std = values.mean(), values.std()
    _, y = np.unique(labels[chosen], return_inverse=True)
    return [((x - mean) / std).astype(np.float32) for x in X], y.astype(np.int64)


def case_shape(case):
    """``(n_features, n_outputs, output_mode)`` of a case (PLAID's n_outputs: from the data)."""
    return {
        "addition": (2, 1, "sequence"),
        "sine": (1, 1, "last"),
        "classify": (8, 5, "last"),
        "plaid": (1, None, "last"),
    }[case.task]


def training_flops(case):
    """Floating-point operations of one training epoch's matrix products (2 per multiply-add).

    Per sample and step, with G = gates x hidden units, H hidden units and F features: the
    input projection (2FG) and the recurrent product (2HG) forward; backward the recurrent
    product's gradient with respect to h (2GH) and the weight gradients of W_h (2HG) and W_x
    (2FG); the gradient with respect to the network's input is not formed in training. The
    output layer adds 6 H n_outputs per row it reads (forward, weight gradient, gradient of
    its input). Elementwise work (gates, losses, the optimizer) is not counted.
    """
    n_features, n_outputs, output_mode = case_shape(case)
    n_hidden, n_steps = case.n_hidden, case.n_timesteps
    fused = GATES[case.cell] * n_hidden
    per_step = 2 * fused * (2 * n_features + 3 * n_hidden)
    head_rows = n_steps if output_mode == "sequence" else 1
    return case.n_samples * (n_steps * per_step + head_rows * 6 * n_hidden * (n_outputs or 1))


def sgemm_peak():
    """GFLOP/s of NumPy's float32 matrix product of two large squares, best of a few, at the
    current thread limit: the machine's practical sgemm peak (the kernels' products run on
    the same kind of BLAS kernel)."""
    rng = np.random.default_rng(SEED)
    a, b = rng.standard_normal((2, PEAK_SIZE, PEAK_SIZE), dtype=np.float32)
    a @ b  # warm-up
    best = min(timed(np.matmul, a, b)[0] for _ in range(PEAK_REPEATS))
    return 2 * PEAK_SIZE**3 / best / 1e9


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
        estimator, extra = RNNClassifier, {}
        if case.task == "sine":  # PyTorch's model: raw targets, no dropout
            estimator, extra = RNNRegressor, {"normalize_y": False, "dropout": 0.0}
        self.estimator = estimator(
            hidden_layer_sizes=(case.n_hidden,),
            cell=cell,
            output_mode=case_shape(case)[2],
            optimizer=SGD(learning_rate=LEARNING_RATE, momentum=MOMENTUM),
            batch_size=case.batch_size,
            pooling="last",  # what PyTorch's model reads: its last state, unclipped
            max_grad_norm=None,
            learning_rate_schedule="constant",
            shuffle=True,
            random_state=seed,
            **extra,
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


# --------------------------------------------------------------------------- ONNX Runtime


def import_onnxruntime():
    """Return the ``onnxruntime`` module, or ``None`` when it or ``onnx`` is missing."""
    try:
        import onnx  # noqa: F401  (rnnlearn.onnx.to_onnx needs it)
        import onnxruntime
    except ImportError:
        return None
    return onnxruntime


class OnnxRunner:
    """ONNX Runtime's side of the latency cases: the estimator exported with
    :func:`rnnlearn.onnx.to_onnx`, run in one session on one thread (intra- and inter-op)."""

    name = "onnx"

    def __init__(self, onnxruntime, estimator):
        from rnnlearn.onnx import to_onnx

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            to_onnx(estimator).SerializeToString(), options, providers=["CPUExecutionProvider"]
        )

    def predict(self, X):
        """The exported ``predictions`` of the float32 array ``X``."""
        return self.session.run(["predictions"], {"X": X})[0]

    def output(self, X):
        return np.asarray(self.predict(X), dtype=np.float64).reshape(len(X), -1)


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
        from torch import nn

        n_features, n_outputs, output_mode = case_shape(case)
        self._build(case, n_features, n_outputs, seed)
        torch = self.torch
        self.last = output_mode == "last"
        self.task = case.task
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

    def _build(self, case, n_features, n_outputs, seed):
        """The seeded recurrent layer, linear head, SGD and shuffling generator."""
        import torch
        from torch import nn

        self.torch = torch
        torch.manual_seed(seed)
        recurrent = {"vanilla": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[case.cell]
        self.rnn = recurrent(n_features, case.n_hidden, batch_first=True)  # nn.RNN: tanh
        self.head = nn.Linear(case.n_hidden, n_outputs)
        self.parameters = list(self.rnn.parameters()) + list(self.head.parameters())
        self.batch_size = case.batch_size
        self.generator = torch.Generator().manual_seed(seed)
        self.optimizer = torch.optim.SGD(self.parameters, lr=LEARNING_RATE, momentum=MOMENTUM)
        self.last_loss = None

    def _inputs(self, index):
        """The training inputs of the minibatch ``index``, ready for ``forward``."""
        return self.X[index]

    def _tensor(self, X):
        """A NumPy input as ``forward`` takes it (a view: ``from_numpy`` copies nothing)."""
        return self.torch.from_numpy(X)

    def forward(self, X):
        out, _ = self.rnn(X)
        if self.last:
            out = out[:, -1]
        return self.head(out)

    def train_epoch(self):
        """One epoch over a fresh permutation; return its mean training loss."""
        torch = self.torch
        n = len(self.Y)
        order = torch.randperm(n, generator=self.generator)
        total = torch.zeros(())
        for start in range(0, n, self.batch_size):
            index = order[start : start + self.batch_size]
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.loss_fn(self.forward(self._inputs(index)), self.Y[index])
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
            raw = self.forward(self._tensor(X))
            if self.task == "addition":
                return (raw[..., 0] > 0).to(self.torch.int64).numpy()
            if self.task == "classify":
                return raw.argmax(-1).numpy()
            return raw[:, 0].numpy()

    def output(self, X):
        with self.torch.inference_mode():
            raw = self.forward(self._tensor(X))
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


class PackedTorchRunner(TorchRunner):
    """PyTorch on variable-length sequences: packed batches, the last valid state to the head.

    A classifier (softmax cross-entropy) on a list of ``(n_timesteps_i, n_features)`` arrays.
    Each minibatch is padded (``pad_sequence``) and packed (``pack_padded_sequence`` with
    ``enforce_sorted=False``), so the recurrent layer stops at each sequence's end and its
    final state ``h_n`` is the state after the last valid step, in the batch's order.
    """

    def __init__(self, case, X, y, seed=SEED):
        from torch import nn

        self._build(case, X[0].shape[1], int(y.max()) + 1, seed)
        torch = self.torch
        self.task = "classify"  # argmax / softmax in predict and output
        self.X = [torch.from_numpy(x) for x in X]
        self.lengths = torch.tensor([len(x) for x in X])
        self.Y = torch.from_numpy(y)
        self.loss_fn = nn.CrossEntropyLoss()

    def _pack(self, sequences, lengths):
        from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

        padded = pad_sequence(sequences, batch_first=True)
        return pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)

    def _inputs(self, index):
        return self._pack([self.X[i] for i in index.tolist()], self.lengths[index])

    def _tensor(self, X):
        """A list of NumPy sequences packed, conversion included (as a user would)."""
        lengths = self.torch.tensor([len(x) for x in X])
        return self._pack([self.torch.from_numpy(x) for x in X], lengths)

    def forward(self, X):
        _, state = self.rnn(X)
        h_n = state[0] if isinstance(state, tuple) else state  # LSTM: (h_n, c_n)
        return self.head(h_n[-1])


# --------------------------------------------------------------------------- timing


def timed(function, *args):
    time.sleep(PAUSE)
    start = CLOCK()
    result = function(*args)
    return CLOCK() - start, result


def predict_all(runner, X, batch_size=PREDICT_BATCH):
    for start in range(0, len(X), batch_size):
        runner.predict(X[start : start + batch_size])


def compare_case(case, n_epochs, n_repeats, use_torch):
    """Time one of the 9 cases, alternating the frameworks; return a result dict."""
    X, y = make_data(case.task, case.n_samples, case.n_timesteps)
    result = compare(case, X, y, n_epochs, n_repeats, TorchRunner if use_torch else None)
    result["gflop_per_epoch"] = training_flops(case) / 1e9
    for name in ("rnnlearn", "torch"):
        if f"{name}_s_per_epoch" in result:
            result[f"{name}_gflops"] = result["gflop_per_epoch"] / result[f"{name}_s_per_epoch"]
    return result


def compare(case, X, y, n_epochs, n_repeats, torch_class, predict_batch=PREDICT_BATCH):
    """Train and predict with both frameworks on ``(X, y)``, alternating; a result dict.

    ``torch_class`` is the PyTorch runner (``None``: rnnlearn only); predictions run over
    ``X`` in slices of ``predict_batch``.
    """
    runners = [RnnlearnRunner(case, X, y)]
    result = {"case": case.name, **asdict(case)}
    gc.collect()
    gc.freeze()  # the imported modules' objects: a full collection would scan them (~0.2 s)
    warm, _ = timed(runners[0].train_epoch)
    result["rnnlearn_warmup_s"] = warm
    if torch_class is not None:
        torch_runner = torch_class(case, X, y)
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
        predict_all(runner, X, predict_batch)  # warm-up
    for _ in range(n_repeats):
        for runner in runners:
            seconds = timed(predict_all, runner, X, predict_batch)[0]
            result[f"{runner.name}_predict_s"].append(seconds)
    for runner in runners:
        name = runner.name
        result[f"{name}_s_per_epoch"] = statistics.median(result[f"{name}_epoch_s"])
        result[f"{name}_s_per_epoch_min"] = min(result[f"{name}_epoch_s"])
        result[f"{name}_s_per_predict"] = statistics.median(result[f"{name}_predict_s"])
        result[f"{name}_samples_per_s"] = len(X) / result[f"{name}_s_per_predict"]
        result[f"{name}_final_loss"] = result[f"{name}_losses"][-1]
        result[f"{name}_status"] = runner.status()
    return result


def time_calls(function, X, n_calls):
    """Seconds taken by each of ``n_calls`` calls ``function(X)``, after warm-up and a pause."""
    for _ in range(LATENCY_WARMUP):
        function(X)
    time.sleep(PAUSE)
    seconds = []
    for _ in range(n_calls):
        start = time.perf_counter()
        function(X)
        seconds.append(time.perf_counter() - start)
    return seconds


def measure_latency(cell, n_calls, n_blocks, use_torch, onnxruntime=None):
    """Median seconds per ``predict`` call on 1 and on 32 sequences; a result dict.

    The model is fitted one epoch on the sine task; PyTorch gets its weights and ONNX
    Runtime (if given; one thread) runs its export. rnnlearn calls its public ``predict``,
    PyTorch ``from_numpy`` + forward + head in ``inference_mode`` (``TorchRunner.predict``),
    ONNX Runtime ``session.run``, all on the same NumPy array every call. The calls come in
    ``n_blocks`` blocks per framework, the frameworks alternating block by block.
    """
    case = Case("sine", cell, *LATENCY_FIT)
    X, y = make_data(case.task, case.n_samples, case.n_timesteps)
    runners = [RnnlearnRunner(case, X, y)]
    runners[0].train_epoch()
    result = {"case": f"latency-{cell}", **asdict(case), "calls": n_calls}
    if use_torch:
        runners.append(TorchRunner(case, X, y))
        runners[-1].load(runners[0].coefs())
    if onnxruntime is not None:
        runners.append(OnnxRunner(onnxruntime, runners[0].estimator))
    for runner in runners[1:]:  # the same model on every side
        key = "onnx_max_abs_output_diff" if runner.name == "onnx" else "max_abs_output_diff_at_copy"
        result[key] = float(np.max(np.abs(runners[0].output(X) - runner.output(X))))
    for size in LATENCY_BATCHES:
        batch = X[:size]
        calls = {runner.name: [] for runner in runners}
        for _ in range(n_blocks):
            for runner in runners:
                calls[runner.name] += time_calls(runner.predict, batch, n_calls // n_blocks)
        for name, seconds in calls.items():
            result[f"{name}_latency_{size}_calls_s"] = seconds
            result[f"{name}_latency_{size}_s"] = statistics.median(seconds)
        rl = result[f"rnnlearn_latency_{size}_s"]
        result[f"latency_{size}_ratio"] = ratio(rl, result.get(f"torch_latency_{size}_s"))
        result[f"latency_{size}_onnx_ratio"] = ratio(rl, result.get(f"onnx_latency_{size}_s"))
    return result


def compare_plaid(plaid, case, n_epochs, n_repeats, use_torch):
    """The variable-length case: PLAID sequences, PyTorch on packed batches; a result dict.

    Both train the same epochs as the other cases (same weight and velocity copy) and
    predict the whole subset in consecutive slices of ``case.batch_size`` sequences.
    """
    X, y = plaid
    result = compare(
        case, X, y, n_epochs, n_repeats, PackedTorchRunner if use_torch else None, case.batch_size
    )
    lengths = [len(x) for x in X]
    result["lengths"] = {
        "min": min(lengths),
        "median": statistics.median(lengths),
        "max": max(lengths),
    }
    result["n_classes"] = int(y.max()) + 1
    add_ratios(result)
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


def attach_memory(results, cases, frameworks, threads, quick):
    """Add ``<framework>_memory`` to each result: a fresh process per case and framework
    (with ``quick``, one process per framework runs every case in turn)."""
    groups = [cases] if quick else [[case] for case in cases]
    for framework in frameworks:
        memory = [m for group in groups for m in measure_memory(framework, group, threads)]
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
    """What the figures depend on: machine, libraries, BLAS and the thread counts run."""
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
    counts = ", ".join(str(n) for n in env["threads"])
    print(f"threads : {counts} for both (threadpoolctl for numpy, torch.set_num_threads)")
    print(f"numpy   : {env['numpy']}, BLAS {blas}; {blas_env}")
    if env["torch"] is None:
        print("torch   : not installed -- PyTorch columns skipped (pip install torch, CPU build)")
    else:
        print(f"torch   : {env['torch']} ({env['torch_blas']})")
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


def print_throughput(results, peak):
    """Each case's matrix-product GFLOP/s in training (see :func:`training_flops`) and its
    share of the sgemm peak."""
    print(
        f"\ntraining throughput: matrix products' GFLOP/s per epoch; sgemm peak {peak:.1f} "
        f"GFLOP/s (float32 {PEAK_SIZE} x {PEAK_SIZE} products, best of {PEAK_REPEATS})"
    )
    header = f"{'case':<18}{'GFLOP/epoch':>12}{'rl GFLOP/s':>12}{'% peak':>8}"
    header += f"{'torch GFLOP/s':>15}{'% peak':>8}"
    print(header)
    print("-" * len(header))
    for r in results:
        rates = [r.get("rnnlearn_gflops"), r.get("torch_gflops")]
        cells = [(r["gflop_per_epoch"], "12.1f")]
        for rate, width in zip(rates, (12, 15), strict=True):
            cells += [(rate, f"{width}.1f"), (ratio(rate, peak / 100), "8.0f")]
        print(f"{r['case']:<18}" + "".join(_fmt(value, spec) for value, spec in cells))


def ratio(a, b):
    """``a / b``, or ``None`` when either is missing (or ``b`` is 0)."""
    return None if a is None or b is None or b == 0 else a / b


def add_ratios(result):
    result["time_ratio"] = ratio(
        result.get("rnnlearn_s_per_epoch"), result.get("torch_s_per_epoch")
    )
    result["inference_ratio"] = ratio(
        result.get("rnnlearn_samples_per_s"), result.get("torch_samples_per_s")
    )
    result["predict_time_ratio"] = ratio(
        result.get("rnnlearn_s_per_predict"), result.get("torch_s_per_predict")
    )
    for phase in ("train", "predict"):
        result[f"{phase}_memory_ratio"] = ratio(
            result.get("rnnlearn_memory", {}).get(f"{phase}_mib"),
            result.get("torch_memory", {}).get(f"{phase}_mib"),
        )


def run_ratios(run):
    """The ratios rnnlearn/PyTorch of one run, as lists by kind (missing ones left out)."""

    def values(results, *keys):
        return [r[key] for r in results for key in keys if r.get(key) is not None]

    cases, plaid = run.get("cases", []), run.get("variable_length", [])
    ratios = {
        "time": values(cases, "time_ratio"),
        "inference": values(cases, "inference_ratio"),
        "memory": values(cases, "train_memory_ratio", "predict_memory_ratio"),
        "varlen_time": values(plaid, "time_ratio"),
        "varlen_predict": values(plaid, "predict_time_ratio"),
    }
    for size in LATENCY_BATCHES:
        ratios[f"latency_{size}"] = values(run.get("latency", []), f"latency_{size}_ratio")
        ratios[f"latency_{size}_onnx"] = values(
            run.get("latency", []), f"latency_{size}_onnx_ratio"
        )
    return ratios


def target_checks(run):
    """``(label, value, met)`` for each target of issue 5 that this run measured."""
    ratios = run_ratios(run)
    latency = [value for size in LATENCY_BATCHES for value in ratios[f"latency_{size}"]]
    peak = run.get("sgemm_peak_gflops")
    lstm_share = [
        100 * r["rnnlearn_gflops"] / peak
        for r in run.get("cases", [])
        if r["case"] == "classify-lstm" and peak
    ]
    targets = [  # label, ratios, the statistic checked, whether it meets the target
        ("time ratio <= 1.0 on every case", ratios["time"], max, lambda v: v <= 1.0),
        ("time ratio <= 0.6 on every case (issue 20)", ratios["time"], max, lambda v: v <= 0.6),
        (
            "classify-lstm training >= 60 % of sgemm peak (issue 20)",
            lstm_share,
            min,
            lambda v: v >= 60,
        ),
        ("median time ratio <= 0.5", ratios["time"], statistics.median, lambda v: v <= 0.5),
        ("inference ratio >= 1.0 on every case", ratios["inference"], min, lambda v: v >= 1.0),
        ("peak memory ratio <= 1.5", ratios["memory"], max, lambda v: v <= 1.5),
        ("latency ratio <= 1.0 (1 and 32 sequences)", latency, max, lambda v: v <= 1.0),
        (
            "latency on 1 sequence <= ONNX Runtime's (issue 20)",
            ratios["latency_1_onnx"],
            max,
            lambda v: v <= 1.0,
        ),
        (
            "latency on 32 sequences <= 0.8 of PyTorch's (issue 20)",
            ratios["latency_32"],
            max,
            lambda v: v <= 0.8,
        ),
        ("variable-length training ratio <= 1.0", ratios["varlen_time"], max, lambda v: v <= 1.0),
        (
            "variable-length inference ratio <= 1.0",
            ratios["varlen_predict"],
            max,
            lambda v: v <= 1.0,
        ),
    ]
    return [
        (label, statistic(values), met(statistic(values)))
        for label, values, statistic, met in targets
        if values
    ]


def print_targets(run):
    """The targets of issue 5, checked on this run (nothing if none was measured)."""
    checks = target_checks(run)
    if checks:
        print(f"\ntargets at {run['threads']} thread(s):")
    for label, value, met in checks:
        print(f"  [{'met' if met else 'MISSED'}] {label}: {value:.2f}")


def print_latency(results):
    header = (
        f"{'case':<18}{'sequences':>10}{'ms/call rl':>12}{'torch':>9}{'ratio':>7}"
        f"{'onnxrt':>9}{'ratio':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        for size in LATENCY_BATCHES:
            cells = [
                (1e3 * r[f"rnnlearn_latency_{size}_s"], "12.3f"),
                (_milliseconds(r.get(f"torch_latency_{size}_s")), "9.3f"),
                (r.get(f"latency_{size}_ratio"), "7.2f"),
                (_milliseconds(r.get(f"onnx_latency_{size}_s")), "9.3f"),
                (r.get(f"latency_{size}_onnx_ratio"), "7.2f"),
            ]
            print(f"{r['case']:<18}{size:>10}" + "".join(_fmt(v, spec) for v, spec in cells))
    for key, label in (
        ("max_abs_output_diff_at_copy", "with rnnlearn's weights copied into PyTorch"),
        ("onnx_max_abs_output_diff", "exported to ONNX"),
    ):
        diffs = [r[key] for r in results if key in r]
        if diffs:
            print(f"same model {label}: max |output difference| {max(diffs):.1e}")
    print(
        "median of the calls; ratios rnnlearn/PyTorch and rnnlearn/ONNX Runtime (< 1: rnnlearn "
        "faster); PyTorch's time includes from_numpy; ONNX Runtime on 1 thread (intra- and "
        "inter-op) at every thread count."
    )


def _milliseconds(seconds):
    return None if seconds is None else 1e3 * seconds


def print_variable_length(results):
    header = (
        f"{'case':<18}{'s/epoch rl':>11}{'torch':>8}{'ratio':>7}"
        f"{'s/predict rl':>13}{'torch':>8}{'ratio':>7}{'loss rl':>11}{'torch':>10}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        cells = [
            (r.get("rnnlearn_s_per_epoch"), "11.3f"),
            (r.get("torch_s_per_epoch"), "8.3f"),
            (r.get("time_ratio"), "7.2f"),
            (r.get("rnnlearn_s_per_predict"), "13.3f"),
            (r.get("torch_s_per_predict"), "8.3f"),
            (r.get("predict_time_ratio"), "7.2f"),
            (r.get("rnnlearn_final_loss"), "11.3g"),
            (r.get("torch_final_loss"), "10.3g"),
        ]
        print(f"{r['case']:<18}" + "".join(_fmt(value, spec) for value, spec in cells))
        if "max_abs_output_diff_at_copy" in r:
            print(
                f"same model: with rnnlearn's weights copied, max |output difference| "
                f"{r['max_abs_output_diff_at_copy']:.1e}"
            )
        for name in ("rnnlearn", "torch"):
            if r.get(f"{name}_status", "ok") != "ok":
                print(f"WARNING: {name} {r[f'{name}_status']} on {r['case']}: time not valid")
    print(
        "ratios rnnlearn/PyTorch of seconds per epoch and per prediction pass (< 1: rnnlearn "
        "faster)."
    )


def print_summary(runs):
    """The ratios rnnlearn/PyTorch at each thread count, one line per count."""
    print("\nsummary: ratios rnnlearn/PyTorch (and rnnlearn/ONNX Runtime) at each thread count")
    header = (
        f"{'threads':>7}{'epoch median':>14}{'epoch max':>11}{'infer/s min':>13}"
        + "".join(f"{f'latency {size} seq':>16}" for size in LATENCY_BATCHES)
        + f"{'1 seq / onnxrt':>16}"
        + f"{'varlen epoch':>14}{'varlen predict':>16}"
    )
    print(header)
    print("-" * len(header))
    for run in runs:
        ratios = run_ratios(run)
        times = ratios["time"]
        cells = [
            (statistics.median(times) if times else None, "14.2f"),
            (max(times, default=None), "11.2f"),
            (min(ratios["inference"], default=None), "13.2f"),
            *((max(ratios[f"latency_{size}"], default=None), "16.2f") for size in LATENCY_BATCHES),
            (max(ratios["latency_1_onnx"], default=None), "16.2f"),
            (max(ratios["varlen_time"], default=None), "14.2f"),
            (max(ratios["varlen_predict"], default=None), "16.2f"),
        ]
        print(f"{run['threads']:>7}" + "".join(_fmt(value, spec) for value, spec in cells))
    print(
        "epoch, latency and varlen: < 1 means rnnlearn faster; infer/s: > 1 means rnnlearn faster."
    )


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


def selected(tokens, name, task, cell):
    """Whether ``--cases`` (empty: everything) asks for this case."""
    return not tokens or any(token in (name, task, cell) for token in tokens)


def select_cases(tokens, quick):
    cases = []
    for task, (full, small) in TASKS.items():
        n, T, H, B = small if quick else full
        for cell in CELLS:
            case = Case(task, cell, n, T, H, B)
            if selected(tokens, case.name, task, cell):
                cases.append(case)
    return cases


def plaid_case(tokens, quick, plaid):
    """The variable-length case for ``plaid`` (its data), or ``None`` if not selected."""
    if plaid is None or not selected(tokens, "plaid-lstm", "plaid", "lstm"):
        return None
    n, H, B = PLAID[1] if quick else PLAID[0]
    return Case("plaid", "lstm", len(plaid[0]), max(len(x) for x in plaid[0]), H, B)


def scaling_cases(quick):
    (t_values, t_n), (n_values, n_t) = (
        (SCALING_QUICK_T, SCALING_QUICK_N) if quick else (SCALING_T, SCALING_N)
    )
    _, _, H, B = TASKS["sine"][0]
    base = Case("sine", "lstm", 0, 0, H, B)
    rows = [("T", replace(base, n_samples=t_n, n_timesteps=T)) for T in t_values]
    rows += [("n", replace(base, n_samples=n, n_timesteps=n_t)) for n in n_values]
    return rows


def run_cases(cases, args, threads, use_torch, label):
    """Time every case, then measure memory; return the result dicts."""
    results = []
    for case in cases:
        print(f"  {label}{case.name} T={case.n_timesteps} n={case.n_samples}", file=sys.stderr)
        results.append(compare_case(case, args.epochs, args.repeats, use_torch))
    if not args.no_memory:
        print(f"  {label}memory ...", file=sys.stderr)
        frameworks = ("rnnlearn", "torch") if use_torch else ("rnnlearn",)
        attach_memory(results, cases, frameworks, threads, args.quick)
    else:
        for result in results:
            add_ratios(result)
    return results


def run_training_cases(args, threads, use_torch):
    """The 9 cases selected by ``--cases``, printed; their result dicts and the sgemm peak
    (GFLOP/s, the better of a measurement before and one after the cases; ``None`` without
    cases)."""
    cases = select_cases(args.cases, args.quick)
    if not cases:
        return [], None
    peak = sgemm_peak()
    results = run_cases(cases, args, threads, use_torch, "")
    peak = max(peak, sgemm_peak())
    print(
        f"\n{args.epochs} timed epochs after 1 warm-up each (median shown, "
        f"{'CPU' if args.cpu_time else 'wall'} seconds), {threads} threads, float32, SGD lr "
        f"{LEARNING_RATE} momentum {MOMENTUM}\n"
    )
    print_table(results)
    print_throughput(results, peak)
    return results, peak


def run_latency(args, use_torch, onnxruntime):
    """The latency cases selected by ``--cases``, printed; their result dicts."""
    cells = [c for c in CELLS if selected(args.cases, f"latency-{c}", "latency", c)]
    results = []
    for cell in cells:
        print(f"  latency-{cell}", file=sys.stderr)
        n_blocks = LATENCY_BLOCKS[1 if args.quick else 0]
        results.append(measure_latency(cell, args.latency_calls, n_blocks, use_torch, onnxruntime))
    if results:
        n, T, H, _ = LATENCY_FIT
        print(
            f"\nlatency: predict on 1 and on {LATENCY_BATCHES[-1]} sine windows (T={T}, "
            f"{H} hidden, fitted 1 epoch on {n}), median of {args.latency_calls} calls\n"
        )
        print_latency(results)
    return results


def run_variable_length(args, use_torch, plaid):
    """The PLAID case if selected and its data found, printed; a list of 0 or 1 result."""
    case = plaid_case(args.cases, args.quick, plaid)
    if case is None:
        return []
    print(f"  {case.name} n={case.n_samples}", file=sys.stderr)
    result = compare_plaid(plaid, case, args.epochs, args.repeats, use_torch)
    lengths = result["lengths"]
    print(
        f"\nvariable length: {case.n_samples} PLAID sequences (lengths {lengths['min']}-"
        f"{lengths['max']}, median {lengths['median']:g}; 1 channel, {result['n_classes']} "
        f"classes), LSTM {case.n_hidden} hidden, batch {case.batch_size}; PyTorch on packed "
        f"batches\n"
    )
    print_variable_length([result])
    return [result]


def run_scaling(args, threads, use_torch):
    """The LSTM scaling sweeps, printed; their result dicts."""
    sweeps = scaling_cases(args.quick)
    rows = run_cases([case for _, case in sweeps], args, threads, use_torch, "scaling ")
    for (sweep, _), row in zip(sweeps, rows, strict=True):
        row["sweep"] = sweep
    case = sweeps[0][1]
    print(f"\nLSTM scaling (sine task, {case.n_hidden} hidden, batch {case.batch_size})\n")
    print_scaling(rows)
    return rows


def run_at(threads, args, torch, plaid, onnxruntime):
    """Every selected measurement with ``threads`` threads for both frameworks (ONNX
    Runtime, in the latency cases, on one thread)."""
    use_torch = torch is not None
    with threadpool_limits(threads):
        if use_torch:
            torch.set_num_threads(threads)
        load = os.getloadavg() if hasattr(os, "getloadavg") else None
        run = {"threads": threads, "load_average": load}
        print(f"\n===== {threads} thread(s)" + ("" if load is None else f", load {load[0]:.2f}"))
        if not args.scaling_only:
            run["cases"], run["sgemm_peak_gflops"] = run_training_cases(args, threads, use_torch)
            run["latency"] = run_latency(args, use_torch, onnxruntime)
            run["variable_length"] = run_variable_length(args, use_torch, plaid)
            print_targets(run)
        if args.scaling or args.scaling_only:
            run["scaling"] = run_scaling(args, threads, use_torch)
    return run


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small data, 3 epochs (smoke test)")
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=None,
        help="thread counts, one run each (default: 1 and all cores; --quick: all cores)",
    )
    parser.add_argument("--cases", nargs="*", default=[], help="names, tasks or cells to run")
    parser.add_argument("--epochs", type=int, default=None, help="timed epochs (default 5; 3)")
    parser.add_argument("--repeats", type=int, default=None, help="timed predict passes")
    parser.add_argument(
        "--latency-calls", type=int, default=None, help="timed predict calls (default 200; 20)"
    )
    parser.add_argument("--data", default=DATA_DIR, help="folder of PLAID_TRAIN.ts")
    parser.add_argument("--scaling", action="store_true", help="also the LSTM scaling sweeps")
    parser.add_argument("--scaling-only", action="store_true", help="only the scaling sweeps")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory subprocesses")
    parser.add_argument("--no-torch", action="store_true", help="rnnlearn only")
    parser.add_argument("--json", metavar="PATH", help="also write all results as JSON")
    parser.add_argument(
        "--cpu-time",
        action="store_true",
        help="time epochs and predict passes in CPU seconds (meaningful at 1 thread)",
    )
    parser.add_argument("--_memory-worker", dest="memory_worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    if args.threads is None:
        args.threads = [cores] if args.quick else sorted({1, cores})
    args.epochs = args.epochs or (3 if args.quick else 5)
    args.repeats = args.repeats or (3 if args.quick else 5)
    args.latency_calls = args.latency_calls or LATENCY_CALLS[1 if args.quick else 0]
    return args


def main(argv=None):
    args = parse_args(argv)
    global CLOCK
    CLOCK = time.process_time if args.cpu_time else time.perf_counter
    if args.memory_worker:
        memory_worker(json.loads(args.memory_worker))
        return
    torch = None if args.no_torch else import_torch()
    if torch is None and not args.no_torch:
        print("PyTorch is not installed: printing rnnlearn's figures only.\n")
    onnxruntime = None if args.no_torch else import_onnxruntime()
    latency = any(selected(args.cases, f"latency-{c}", "latency", c) for c in CELLS)
    if onnxruntime is None and not args.no_torch and latency:
        print("onnx or onnxruntime is not installed: the latency table has no ONNX Runtime row.\n")
    n_plaid = (PLAID[1] if args.quick else PLAID[0])[0]
    plaid = None if args.scaling_only else load_plaid(args.data, n_plaid)
    if plaid is None and not args.scaling_only:
        print(f"no {PLAID_FILE} in {args.data} (--data): the variable-length case is skipped")
    env = environment(args.threads, torch)
    print_environment(env)
    out = {"environment": env, "settings": vars(args) | {"memory_worker": None}}
    out["runs"] = [run_at(threads, args, torch, plaid, onnxruntime) for threads in args.threads]
    if not args.scaling_only:
        print_summary(out["runs"])
    env["load_average_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
