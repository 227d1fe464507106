"""Training-step speed: minigrad vs torch on CPU, forward + backward + Adam step.

    minigrad bench train [--quick] [--repeats N] [--threads N] [--models mlp,cnn,transformer,policy] [--json PATH]

Three models at batch 32 (the transformer at its example's 16), random inputs and integer targets,
cross-entropy loss, Adam(lr=1e-3):
  mlp          64-128-64-10 with ReLUs, input 32×64
  cnn          conv 1→16 3×3 pad 1, ReLU, max-pool 2, conv 16→32 3×3 pad 1, ReLU, max-pool 2, linear 128→10,
               input 32×1×8×8
  transformer  char-transformer's default configuration (examples/char_transformer.py: 2 pre-norm blocks,
               d 64, 4 heads, context 32, vocabulary 100), input 16×32 character ids (its batch); nn
               modules in both frameworks, torch's loaded with minigrad's state_dict; its step also
               clips the gradient norm to 1, as the example does
and, asked for with --models, PPO's per-environment-step inference at batch 1:
  policy       examples/ppo.py's Hopper-sized agent (11 observations, 2×64 tanh actor and critic, 3 actions):
               the Gaussian policy's sample and log-prob and the critic's value for one observation, without
               the graph, as the rollout calls it once per environment step
Both frameworks start from the same weights and see the same batch; each step is zero_grad, forward,
backward, step. Candidates alternate round by round in one process with the same thread count
(torch.set_num_threads, minigrad.set_num_threads and, with threadpoolctl, NumPy's BLAS); the
median time per step is reported. Targets: MLP step no slower than torch's, CNN and transformer within 1.5×.
"""
import argparse
import json
import platform
import sys

import numpy as np

from .. import functional as F
from .. import get_num_threads, optim, set_num_threads
from ..examples.arguments import integer
from ..tensor import Parameter, Tensor
from ..utils.benchmark import measure

BATCH = 32
TARGETS = {"mlp": 1.0, "cnn": 1.5, "transformer": 1.5, "policy": 1.0}  # the largest acceptable minigrad / torch ratio
VOCAB, CONTEXT, WINDOWS = 100, 32, 16  # the transformer's: vocabulary, context, batch


def init_params(model, rng):
    """{name: float32 array}, initialized as torch's Linear/Conv2d defaults (U(±1/sqrt(fan_in)))."""
    shapes = {"mlp": {"w1": (128, 64), "b1": (128,), "w2": (64, 128), "b2": (64,), "w3": (10, 64), "b3": (10,)},
              "cnn": {"c1": (16, 1, 3, 3), "cb1": (16,), "c2": (32, 16, 3, 3), "cb2": (32,),
                      "w": (10, 128), "b": (10,)}}
    params, fan_in = {}, None
    for name, shape in shapes[model].items():
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else fan_in
        params[name] = (rng.uniform(-1, 1, shape) / np.sqrt(fan_in)).astype(np.float32)
    return params


def batch(model, rng):
    if model == "transformer":
        ids = rng.integers(0, VOCAB, (WINDOWS, CONTEXT + 1))
        return ids[:, :-1], ids[:, 1:].reshape(-1)
    x = rng.standard_normal((BATCH, 64) if model == "mlp" else (BATCH, 1, 8, 8)).astype(np.float32)
    return x, rng.integers(0, 10, BATCH)


def transformer_steps(torch, x, y):
    """char-transformer's training step in both frameworks (torch's model built to the same layout and
    loaded with minigrad's weights)."""
    from ..examples.char_transformer import CharTransformer
    from ..nn import utils
    ours, x_ours, y_ours = CharTransformer(VOCAB, CONTEXT), Tensor(x), Tensor(y)
    steps = {"minigrad": training_step(optim.Adam(ours.parameters(), lr=1e-3),
                                       lambda: F.cross_entropy(ours(x_ours).reshape(-1, VOCAB), y_ours),
                                       lambda: utils.clip_grad_norm_(ours.parameters(), 1.0))}
    if torch is not None:
        theirs, x_theirs, y_theirs = _torch_transformer(torch), torch.from_numpy(x), torch.from_numpy(y)
        theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
        steps["torch"] = training_step(
            torch.optim.Adam(theirs.parameters(), lr=1e-3),
            lambda: torch.nn.functional.cross_entropy(theirs(x_theirs).reshape(-1, VOCAB), y_theirs),
            lambda: torch.nn.utils.clip_grad_norm_(theirs.parameters(), 1.0))
    return steps


def policy_steps(torch):
    """PPO's rollout inference at batch 1 in both frameworks (torch's agent loaded with minigrad's
    weights): sample an action, its log-prob, the value, as ``ppo.act`` gives them to the rollout;
    each returns the value (the same in both)."""
    from ..examples import ppo
    agent, obs = ppo.GaussianAgent(11, 3), np.random.default_rng(0).standard_normal((1, 11)).astype(np.float32)
    steps = {"minigrad": lambda: ppo.act(agent, obs)[2]}
    if torch is not None:
        from .bench_ppo import torch_act, torch_agent
        theirs = torch_agent(torch, agent)
        steps["torch"] = lambda: torch_act(torch, theirs, obs)[2]
    return steps


def training_step(opt, compute_loss, clip=None):
    """One step in either framework: zero_grad, ``compute_loss()`` (forward), backward, ``clip()``, step."""
    def step():
        opt.zero_grad()
        loss = compute_loss()
        loss.backward()
        if clip is not None:
            clip()
        opt.step()
        return loss
    return step


def _torch_transformer(torch):
    nn = torch.nn

    class CharTransformer(nn.Module):  # examples/char_transformer.py's, in torch
        def __init__(self):
            super().__init__()
            self.embed, self.position = nn.Embedding(VOCAB, 64), nn.Embedding(CONTEXT, 64)
            block = nn.TransformerEncoderLayer(64, 4, 256, 0.0, activation=lambda h: nn.functional.gelu(
                h, approximate="tanh"), batch_first=True, norm_first=True)
            self.blocks = nn.TransformerEncoder(block, 2, norm=nn.LayerNorm(64), enable_nested_tensor=False)
            self.head = nn.Linear(64, VOCAB)
            self.register_buffer("causal", nn.Transformer.generate_square_subsequent_mask(CONTEXT), persistent=False)

        def forward(self, ids):
            x = self.embed(ids) + self.position(torch.arange(ids.shape[1]))
            return self.head(self.blocks(x, mask=self.causal, is_causal=True))
    return CharTransformer()


def forward(model, p, x, fn):
    """The model, written once for both frameworks: ``fn`` is minigrad.functional or torch.nn.functional."""
    if model == "mlp":
        h = fn.relu(fn.linear(x, p["w1"], p["b1"]))
        h = fn.relu(fn.linear(h, p["w2"], p["b2"]))
        return fn.linear(h, p["w3"], p["b3"])
    h = fn.max_pool2d(fn.relu(fn.conv2d(x, p["c1"], p["cb1"], padding=1)), 2)
    h = fn.max_pool2d(fn.relu(fn.conv2d(h, p["c2"], p["cb2"], padding=1)), 2)
    return fn.linear(h.reshape(h.shape[0], -1), p["w"], p["b"])


def minigrad_step(model, start, x, y):
    params = {name: Parameter(a.copy()) for name, a in start.items()}
    x, y = Tensor(x), Tensor(y)
    return training_step(optim.Adam(list(params.values()), lr=1e-3),
                         lambda: F.cross_entropy(forward(model, params, x, F), y))


def torch_step(torch, model, start, x, y):
    params = {name: torch.tensor(a, requires_grad=True) for name, a in start.items()}
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    return training_step(torch.optim.Adam(list(params.values()), lr=1e-3),
                         lambda: torch.nn.functional.cross_entropy(forward(model, params, x, torch.nn.functional), y))


def check_same_losses(steps, count=3):
    """Both frameworks follow the same trajectory for a few steps (a sanity check of the comparison)."""
    losses = {name: [float(step().item()) for _ in range(count)] for name, step in steps.items()}
    if "torch" in losses and not np.allclose(losses["minigrad"], losses["torch"], rtol=1e-3, atol=1e-4):
        raise RuntimeError(f"minigrad and torch disagree on the first losses: {losses}")
    return losses


def _limit_blas(threads):
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(limits=threads, user_api="blas")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="minigrad bench train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer rounds: ~7 s on 2 cores")
    parser.add_argument("--repeats", type=integer(1), default=31, help="timed rounds per model (median reported)")
    parser.add_argument("--threads", type=integer(1), help="threads for both frameworks (default: minigrad's)")
    parser.add_argument("--models", default="mlp,cnn,transformer", help="comma-separated: mlp, cnn, transformer")
    parser.add_argument("--no-torch", action="store_true", help="skip torch even if installed")
    parser.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    args = parser.parse_args(argv)

    models = args.models.split(",")
    if not models or any(m not in TARGETS for m in models):
        parser.error(f"unknown model in {models}; valid: {', '.join(TARGETS)}")
    rounds = min(args.repeats, 7) if args.quick else args.repeats
    threads = get_num_threads() if args.threads is None else args.threads
    set_num_threads(threads)
    torch = None
    if not args.no_torch:
        try:
            import torch
            torch.set_num_threads(threads)
        except ImportError:
            print("torch is not installed: its column is skipped (pip install torch)", file=sys.stderr)
    blas_limit = _limit_blas(threads)

    records = []
    for model in models:
        rng = np.random.default_rng(0)
        if model == "transformer":
            steps = transformer_steps(torch, *batch(model, rng))
        elif model == "policy":
            steps = policy_steps(torch)
        else:
            start, (x, y) = init_params(model, rng), batch(model, rng)
            steps = {"minigrad": minigrad_step(model, start, x, y)}
            if torch is not None:
                steps["torch"] = torch_step(torch, model, start, x, y)
        losses = check_same_losses(steps)
        seconds = measure(steps, rounds, min_sample=2e-3)
        record = {"model": model, "us_per_step": {name: s * 1e6 for name, s in seconds.items()}, "first_losses": losses}
        if "torch" in seconds:
            record["ratio_vs_torch"] = seconds["minigrad"] / seconds["torch"]
            record["target_met"] = record["ratio_vs_torch"] <= TARGETS[model]
        records.append(record)

    print(f"numpy {np.__version__}" + (f", torch {torch.__version__}" if torch else ", torch not installed")
          + f", {threads} thread{'s' * (threads > 1)}" + ("" if blas_limit else " (BLAS threads not limited: "
                                                          "install threadpoolctl)")
          + f", {platform.processor() or platform.machine()}")
    print(f"median time per training step (zero_grad + forward + backward + Adam step), batch {BATCH} "
          f"(the transformer {WINDOWS}); policy: one rollout step's inference at batch 1\n")
    print(f"{'model':<12}{'minigrad us':>13}{'torch us':>11}{'ratio':>8}  target")
    for r in records:
        us = r["us_per_step"]
        if "torch" in us:
            met = "met " if r["target_met"] else "MISS"
            print(f"{r['model']:<12}{us['minigrad']:>13.1f}{us['torch']:>11.1f}{r['ratio_vs_torch']:>8.2f}  "
                  f"{met} (ratio <= {TARGETS[r['model']]})")
        else:
            print(f"{r['model']:<12}{us['minigrad']:>13.1f}{'n/a':>11}{'n/a':>8}  (no torch to compare)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"numpy": np.__version__, "torch": torch.__version__ if torch else None, "threads": threads,
                       "batch": BATCH, "transformer_batch": WINDOWS, "records": records}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
