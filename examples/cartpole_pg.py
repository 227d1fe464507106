"""Policy gradient on gymnasium's CartPole-v1: REINFORCE with a learned baseline.

    python examples/cartpole_pg.py [--optimizer adam] [--epochs 20] [--save ckpt.safetensors]
    minigrad train cartpole [options]

An epoch here is 10 policy updates, each made from --batch-episodes episodes (default 4) played
with the sampled policy. Two 4-64-x tanh networks: the policy's logits over {push left, push right} and a
value estimate V(s) of the scaled return-to-go (1 − γ)·G = 1 − γ^(steps left), the baseline. The
loss of a batch is −mean(log π(a|s)·A) + mse(V(s), (1 − γ)·G), with the advantage A = (1 − γ)·G − V(s)
normalized over the batch. Acting takes one small forward pass per step without a graph; the
update takes one batched forward and backward pass over all of the batch's steps.
The metric is the average return of the greedy policy (argmax of the logits) over --eval-episodes
evaluation episodes (the same episodes for every run: their seeds come from --seed only). The
validation split (``run(split="validation")``, what ``minigrad compare`` tunes on) is another set
of greedy episodes, whose reset seeds are even where the test episodes' are odd: never the same.
"""
import numpy as np

import minigrad as mg
import minigrad.functional as F
import minigrad.nn as nn
from minigrad.examples import common
from minigrad.examples.arguments import integer

LR = {"sgd": 0.1, "momentum": 0.03, "nesterov": 0.03,
      "adagrad": 0.1, "adadelta": 1.0, "rmsprop": 3e-3, "adam": 1e-2, "adamw": 1e-2}
EPOCHS = 20
NEEDS = ("gymnasium",)  # the optional modules it needs: CartPole-v1 is gymnasium's
UPDATES_PER_EPOCH = 10
GAMMA = 0.99


class ActorCritic(nn.Module):
    """The policy (logits of the two actions) and the baseline V(s), two separate MLPs."""

    def __init__(self, hidden=64):
        super().__init__()
        self.policy = nn.Sequential(nn.Linear(4, hidden), nn.Tanh(), nn.Linear(hidden, 2))
        self.value = nn.Sequential(nn.Linear(4, hidden), nn.Tanh(), nn.Linear(hidden, 1))


def play(env, policy, rng, greedy=False, reset_seed=None):
    """One episode, its start from ``reset_seed`` (drawn from ``rng`` if None); returns its observations
    (T×4) and actions (T)."""
    obs, _ = env.reset(seed=int(rng.integers(2 ** 31)) if reset_seed is None else reset_seed)
    observations, actions = [], []
    done = False
    with mg.no_grad():
        while not done:
            left, right = policy(mg.tensor(obs)).numpy()
            action = int(right > left) if greedy else int(rng.random() < 1 / (1 + np.exp(left - right)))
            observations.append(obs)
            actions.append(action)
            obs, _, terminated, truncated, _ = env.step(action)
            done = terminated or truncated
    return np.array(observations), np.array(actions)


def loss_on(model, episodes):
    """The REINFORCE-with-baseline loss of a batch of episodes, in one forward pass."""
    states = mg.tensor(np.concatenate([observations for observations, _ in episodes]))
    actions = np.concatenate([actions for _, actions in episodes])
    # reward 1 per step: (1 − γ)·G_t = 1 − γ^(T − t)
    returns = np.concatenate([1 - GAMMA ** np.arange(len(a), 0, -1) for _, a in episodes]).astype(np.float32)
    values = model.value(states).reshape(-1)
    advantages = returns - values.numpy()
    advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    log_probs = F.log_softmax(model.policy(states), dim=1)[np.arange(len(actions)), actions]
    return -(log_probs * mg.tensor(advantages)).mean() + F.mse_loss(values, mg.tensor(returns))


def evaluate(env, policy, seed, episodes, split="test"):
    """Returns of the greedy policy over ``episodes`` episodes whose starts depend on ``seed`` only:
    their reset seeds are odd for the test split, even for the validation split."""
    rng = np.random.default_rng([seed, 1])
    reset_seeds = 2 * rng.integers(2 ** 30, size=episodes) + (split == "test")
    return np.array([len(play(env, policy, rng, greedy=True, reset_seed=int(s))[1]) for s in reset_seeds])


def run(optimizer="adam", lr=None, backend="cpp", epochs=None, seed=0, quiet=True, max_steps=None, save=None,
        resume=None, timing=False, logdir=None, batch_episodes=4, eval_episodes=100, split="test"):
    """Train and evaluate; returns common.result's dict (history: (update, seconds, mean return of
    the batch); metric: the greedy policy's average return on ``split``'s episodes)."""
    import gymnasium  # optional (NEEDS): imported here, so that --help works without it

    lr, epochs = common.tuned_lr(LR, optimizer) if lr is None else lr, EPOCHS if epochs is None else epochs
    common.check_split(split)
    mg.manual_seed(seed)
    rng = mg.default_generator()
    env = gymnasium.make("CartPole-v1")
    model = ActorCritic()
    opt = common.make_optimizer(optimizer, model, lr, backend)
    log = common.RunLog(quiet, max_steps, timing, logdir)
    first_epoch = common.load_checkpoint(resume, model, opt, optimizer, log) if resume else 0

    for epoch in range(first_epoch, epochs):
        for _ in log.epoch(range(UPDATES_PER_EPOCH), epoch, epochs):
            episodes = [play(env, model.policy, rng) for _ in range(batch_episodes)]
            opt.zero_grad()
            loss_on(model, episodes).backward()
            mean_return = float(np.mean([len(actions) for _, actions in episodes]))
            log.step(opt, mean_return)
            if log.bar is not None:
                log.bar.set_postfix({"return": f"{mean_return:.1f}"}, refresh=False)
            if log.done:
                break
        log.print(f"epoch {epoch + 1:3d}  mean return {log.epoch_loss():6.1f}")
        if common.end_epoch(log, save, model, opt, optimizer, epoch, {"train/mean_return": log.epoch_loss()}):
            break

    with common.evaluation_weights(opt):
        returns = evaluate(env, model.policy, seed, eval_episodes, split)
    report = (f"greedy policy over {eval_episodes} {split} episodes: return {returns.mean():.1f} "
              f"(min {returns.min()}, max {returns.max()}; 500 is the cap)")
    return common.result(log, "average_return", float(returns.mean()), model, optimizer, lr, backend, timing, report)


def main(argv=None):
    p = common.parser("cartpole", __doc__, LR, EPOCHS)
    p.add_argument("--batch-episodes", type=integer(1), default=4, help="episodes per policy update (default: 4)")
    p.add_argument("--eval-episodes", type=integer(1), default=100, help="greedy evaluation episodes (default: 100)")
    return common.main(run, p, argv, NEEDS)


if __name__ == "__main__":
    main()
