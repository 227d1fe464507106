"""PPO (examples/ppo.py) in minigrad against the same PPO written with torch, on the same task.

    minigrad bench ppo [--task hopper] [--steps 1003520] [--seed 0] [--busy 0] [--torch-threads N]
                       [--torch-adam default|foreach|fused] [--json PATH]

Both learners start from the same weights and run the same loop (``ppo.iteration``: the same
gymnasium environments and wrappers, the same GAE, minibatches and lr annealing), each with its own
environments seeded alike; they differ only in the framework that runs the agent, the losses,
backward, gradient clipping and Adam (minigrad's C++ kernel; torch's default Adam, which on the
CPU is its for-loop implementation, or its ``foreach`` or ``fused`` one).
The two take turns iteration by iteration in this one process (the first of an iteration is the
second of the next), so that a busy machine slows both alike. Each iteration's time is split into
the rollout's inference (policy and value at batch num_envs), its environment steps, and per
minibatch the forward (the losses), backward, clipping and optimizer step. Printed: each
framework's wall time (the sum of its iterations), the minigrad/torch ratio, the median of each
phase, and each deterministic policy's return at the end.
"""
import argparse
import json
import sys
import time

import numpy as np

from ..examples.arguments import integer, require

TASKS = ("hopper", "reacher")  # the MuJoCo task modules of examples/
PHASES = ("inference", "environment", "forward", "backward", "clip", "step")
TORCH_ADAM = {"default": {}, "foreach": {"foreach": True}, "fused": {"fused": True}}  # torch's Adam implementations


class Clock:
    """Seconds per phase of one iteration, and the per-iteration records."""

    def __init__(self):
        self.records, self.current = [], None

    def start_iteration(self):
        self.current = dict.fromkeys(PHASES, 0.0)
        self.current["total"] = time.perf_counter()

    def end_iteration(self):
        self.current["total"] = time.perf_counter() - self.current["total"]
        self.current["environment"] -= self.current["inference"]  # collect's time less its inference
        self.records.append(self.current)

    def timed(self, phase, function):
        def call(*args):
            start = time.perf_counter()
            out = function(*args)
            self.current[phase] += time.perf_counter() - start
            return out
        return call


def torch_agent(torch, agent):
    """examples/ppo.py's GaussianAgent in torch, loaded with ``agent``'s weights."""
    nn = torch.nn
    obs_dim, act_dim = agent.actor_mean[0].in_features, agent.actor_mean[-1].out_features

    def mlp(n_out):
        return nn.Sequential(nn.Linear(obs_dim, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, n_out))
    theirs = nn.Module()
    theirs.critic, theirs.actor_mean = mlp(1), mlp(act_dim)
    theirs.actor_logstd = nn.Parameter(torch.zeros(1, act_dim))
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in agent.state_dict().items()})
    return theirs


def torch_policy(torch, agent, obs):
    """The diagonal Gaussian of ``torch_agent``'s policy at the observations ``obs`` (a tensor)."""
    mean = agent.actor_mean(obs)
    return torch.distributions.Normal(mean, agent.actor_logstd.exp().expand_as(mean))


def torch_act(torch, agent, obs):
    """``ppo.act`` in torch: (sampled actions, their log-probabilities, the values) for a batch of
    observations (an array), as arrays."""
    with torch.no_grad():
        obs = torch.from_numpy(obs)
        dist = torch_policy(torch, agent, obs)
        action = dist.sample()
        return action.numpy(), dist.log_prob(action).sum(1).numpy(), agent.critic(obs).squeeze(-1).numpy()


class Learner:
    """What both learners share: one minibatch's update from its arrays, each part timed (``as_tensor``
    makes the framework's tensors; ``loss``, ``backward``, ``clip`` and ``step`` are the timed parts)."""

    def update(self, *minibatch):
        self.opt.zero_grad()
        self.backward(self.loss(*(self.as_tensor(a) for a in minibatch)))
        self.clip()
        self.step()


class Minigrad(Learner):
    """The minigrad learner: ``ppo.train``'s agent, optimizer, schedule and update."""

    def __init__(self, agent, lr, options, iterations, settings, clock):
        from .. import optim
        from ..examples import common, ppo
        from ..nn import utils
        from ..creation import tensor
        from ..random import default_generator
        self.agent, self.as_tensor = agent, tensor
        self.opt = common.make_optimizer("adam", agent, lr, "cpp", **options)
        self.schedule = optim.lr_scheduler.LambdaLR(self.opt, lambda i: max(1 - i / iterations, 0.0))
        self.act = clock.timed("inference", lambda obs: ppo.act(agent, obs))
        self.value = lambda obs: ppo.value(agent, obs)
        self.mean_action = lambda obs: ppo.mean_action(agent, obs)
        self.loss = clock.timed("forward", lambda *a: ppo.ppo_loss(agent, *a, settings["clip_coef"],
                                                                     settings["ent_coef"], settings["vf_coef"])[0])
        self.clip = clock.timed("clip", lambda: utils.clip_grad_norm_(agent.parameters(), settings["max_grad_norm"]))
        self.backward = clock.timed("backward", lambda loss: loss.backward())
        self.step = clock.timed("step", self.opt.step)
        self.permutation = default_generator().permutation  # as ppo.train: this side is its run, step for step



class Torch(Learner):
    """The same PPO in torch, as CleanRL's ``ppo_continuous_action.py`` writes it."""

    def __init__(self, torch, agent, lr, options, iterations, settings, clock):
        self.torch, self.agent, self.settings, self.as_tensor = torch, agent, settings, torch.from_numpy
        self.opt = torch.optim.Adam(agent.parameters(), lr=lr, **options)
        self.schedule = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda i: max(1 - i / iterations, 0.0))
        self.act = clock.timed("inference", lambda obs: torch_act(torch, agent, obs))
        self.loss = clock.timed("forward", lambda *a: self._loss(*a)[0])
        self.clip = clock.timed("clip", lambda: torch.nn.utils.clip_grad_norm_(agent.parameters(),
                                                                               settings["max_grad_norm"]))
        self.backward = clock.timed("backward", lambda loss: loss.backward())
        self.step = clock.timed("step", self.opt.step)
        self.permutation = lambda n: torch.randperm(n).numpy()

    def value(self, obs):
        with self.torch.no_grad():
            return self.agent.critic(self.torch.from_numpy(obs.astype(np.float32))).squeeze(-1).numpy()

    def _loss(self, obs, actions, old_log_probs, advantages, returns, old_values):
        """``ppo.ppo_loss`` in torch: L and, as there, (policy loss, value loss, entropy, approximate KL,
        clip fraction) as floats, recorded per minibatch as CleanRL does."""
        torch, s = self.torch, self.settings
        dist = torch_policy(torch, self.agent, obs)
        log_ratio = dist.log_prob(actions).sum(1) - old_log_probs
        ratio = log_ratio.exp()
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        policy_loss = torch.max(-advantages * ratio,
                                -advantages * ratio.clamp(1 - s["clip_coef"], 1 + s["clip_coef"])).mean()
        values = self.agent.critic(obs).squeeze(-1)
        clipped = old_values + (values - old_values).clamp(-s["clip_coef"], s["clip_coef"])
        value_loss = 0.5 * torch.max((values - returns) ** 2, (clipped - returns) ** 2).mean()
        entropy = dist.entropy().sum(1).mean()
        loss = policy_loss - s["ent_coef"] * entropy + s["vf_coef"] * value_loss
        with torch.no_grad():
            approx_kl = ((ratio - 1) - log_ratio).mean().item()
            clip_fraction = ((ratio - 1).abs() > s["clip_coef"]).float().mean().item()
        return loss, (policy_loss.item(), value_loss.item(), entropy.item(), approx_kl, clip_fraction)

    def mean_action(self, obs):
        with self.torch.no_grad():
            return self.agent.actor_mean(self.torch.from_numpy(obs)).numpy()


def race(task, steps, seed, torch_adam="default", **settings):
    """Train both learners ``steps`` environment steps of ``task`` in turns (``settings`` override
    ``ppo.Settings``; ``torch_adam`` one of TORCH_ADAM); returns the records."""
    import importlib

    import torch

    from .. import random
    from ..examples import ppo
    module = importlib.import_module(f"minigrad.examples.{task}")
    lr, options = module.LR["adam"], module.OPTIMIZER_OPTIONS.get("adam", {})
    settings = {**ppo.Settings, **settings}
    iterations = max(steps // (settings["num_steps"] * settings["num_envs"]), 1)
    random.manual_seed(seed)
    torch.manual_seed(seed)
    runs = {}
    for name in ("minigrad", "torch"):
        control, clock = ppo.MuJoCo(module.ENV_ID), Clock()
        envs = control.envs(settings["num_envs"], settings["gamma"])
        if name == "minigrad":
            agent, _ = control.agent(envs)
            learner = Minigrad(agent, lr, options, iterations, settings, clock)
        else:
            learner = Torch(torch, torch_agent(torch, runs["minigrad"]["learner"].agent), lr,
                            {**options, **TORCH_ADAM[torch_adam]}, iterations, settings, clock)
        rollout = ppo.Rollout(envs, settings, seed)
        rollout.collect = clock.timed("environment", rollout.collect)  # then less its inference: Clock.end_iteration
        runs[name] = {"control": control, "envs": envs, "clock": clock, "learner": learner, "rollout": rollout}
    order = list(runs)
    for i in range(iterations):
        for name in order if i % 2 == 0 else order[::-1]:
            run = runs[name]
            learner, clock = run["learner"], run["clock"]
            clock.start_iteration()
            ppo.iteration(run["rollout"], learner.act, learner.value, learner.update, learner.permutation, settings)
            learner.schedule.step()
            clock.end_iteration()
        if (i + 1) % 10 == 0 or i + 1 == iterations:
            print(f"iteration {i + 1}/{iterations}: " + ", ".join(
                f"{name} {sum(r['total'] for r in run['clock'].records):.0f} s, return {run['rollout'].mean_return:.1f}"
                for name, run in runs.items()), flush=True)
    records = {}
    for name, run in runs.items():
        run["control"].epoch_done(run["envs"])  # the normalisers' final moments, as ppo.train keeps them
        run["envs"].close()
        _, score, report = run["control"].score(run["learner"].mean_action, seed, 10, "test")
        records[name] = {"seconds": sum(r["total"] for r in run["clock"].records), "return": score, "report": report,
                         "iterations": run["clock"].records, "env_steps": run["rollout"].env_steps}
    records["torch_threads"], records["settings"] = torch.get_num_threads(), settings
    return records


def summary(records):
    """The lines printed: wall times and ratio, then the median of each phase per iteration."""
    ours, theirs, settings = records["minigrad"], records["torch"], records["settings"]
    steps, updates = settings["num_steps"], settings["update_epochs"] * settings["num_minibatches"]
    threads = records["torch_threads"]
    lines = [f"wall time: minigrad {ours['seconds']:.1f} s, torch {theirs['seconds']:.1f} s (torch on {threads} "
             f"thread{'s' * (threads != 1)}): minigrad/torch {ours['seconds'] / theirs['seconds']:.2f}×",
             f"deterministic return: minigrad {ours['return']:.1f}, torch {theirs['return']:.1f}",
             f"{'median per iteration':<34}{'minigrad':>12}{'torch':>12}{'ratio':>8}"]
    per = {"total": (1, "s", 1), "inference": (steps, "µs per step", 1e6), "environment": (steps, "µs per step", 1e6),
           **{phase: (updates, "µs per minibatch", 1e6) for phase in PHASES[2:]}}
    for phase, (count, unit, scale) in per.items():
        a, b = (np.median([r[phase] for r in run["iterations"]]) / count * scale for run in (ours, theirs))
        lines.append(f"{phase + ' (' + unit + ')':<34}{a:12.1f}{b:12.1f}{a / b:8.2f}")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(prog="minigrad bench ppo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=TASKS, default="hopper", help="the MuJoCo task (default: hopper)")
    parser.add_argument("--steps", type=integer(2048), default=1003520,
                        help="environment steps each, rounded down to whole iterations of 2,048 "
                             "(default: 1,003,520, the tasks' own)")
    parser.add_argument("--seed", type=integer(0), default=0, help="default: 0")
    parser.add_argument("--busy", type=integer(0), default=0,
                        help="background processes spinning meanwhile, as on a shared machine (default: 0)")
    parser.add_argument("--torch-threads", type=integer(1), help="torch's intra-op threads (default: torch's own)")
    parser.add_argument("--torch-adam", choices=TORCH_ADAM, default="default",
                        help="torch's Adam implementation (default: torch's choice, the for-loop one on the CPU)")
    parser.add_argument("--json", metavar="PATH", help="write the records as JSON")
    args = parser.parse_args(argv)
    require("minigrad bench ppo", ("gymnasium", "mujoco"))
    try:
        import torch
    except ImportError:
        sys.exit("minigrad bench ppo: needs torch, the framework it compares against; "
                 "install it with: pip install torch")
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    from .. import get_num_threads
    from .bench_loop import busy_processes
    with busy_processes(args.busy, 10 ** 6):
        records = race(args.task, args.steps, args.seed, args.torch_adam)
    for line in summary(records):
        print(line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"task": args.task, "steps": args.steps, "seed": args.seed, "busy": args.busy,
                       "torch_adam": args.torch_adam, **records,
                       "minigrad_threads": get_num_threads()}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
