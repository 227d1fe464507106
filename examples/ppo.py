"""Proximal Policy Optimization (Schulman et al. 2017) as CleanRL writes it (``ppo_continuous_action.py``),
on minigrad: hopper and reacher (``MuJoCo`` here) and doorkey (its own ``MiniGrid``) train with it.

One iteration: ``num_steps`` steps of the vectorised environments (gymnasium's ``SyncVectorEnv``,
its wrappers normalising observations and rewards), then ``update_epochs`` passes over the rollout
in ``num_minibatches`` shuffled minibatches, each one optimizer step on

    L = L_clip + c_v · L_V − c_H · H,   L_clip = E[max(−A·r, −A·clip(r, 1 − ε, 1 + ε))],  r = π(a|s) / π_old(a|s)
    L_V = ½ E[max((V − R)², (V_old + clip(V − V_old, −ε, ε) − R)²)]

with the advantages A from GAE(λ) (normalised per minibatch) and the returns R = A + V_old; the
gradients are clipped to a total norm of ``max_grad_norm`` and the lr falls linearly to 0."""
import math

import numpy as np

import minigrad as mg
import minigrad.nn as nn
from minigrad.distributions import Independent, Normal

Settings = dict(num_envs=1, num_steps=2048, gamma=0.99, gae_lambda=0.95, num_minibatches=32, update_epochs=10,
                clip_coef=0.2, ent_coef=0.0, vf_coef=0.5, max_grad_norm=0.5)


def layer(n_in, n_out, std=math.sqrt(2)):
    """A linear layer with CleanRL's initialisation: orthogonal weights of gain ``std``, zero bias."""
    linear = nn.Linear(n_in, n_out)
    nn.init.orthogonal_(linear.weight, std)
    nn.init.zeros_(linear.bias)
    return linear


class GaussianAgent(nn.Module):
    """Actor and critic, two tanh MLPs of 64-64 units over the observation; the policy is a diagonal
    Gaussian around the actor's output with a learned, state-independent log standard deviation."""

    def __init__(self, obs_dim, act_dim, hidden=64):
        super().__init__()
        self.critic = nn.Sequential(layer(obs_dim, hidden), nn.Tanh(), layer(hidden, hidden), nn.Tanh(),
                                    layer(hidden, 1, std=1.0))
        self.actor_mean = nn.Sequential(layer(obs_dim, hidden), nn.Tanh(), layer(hidden, hidden), nn.Tanh(),
                                        layer(hidden, act_dim, std=0.01))
        self.actor_logstd = nn.Parameter(mg.zeros(1, act_dim))

    def value(self, obs):
        return self.critic(obs).squeeze(-1)

    def policy(self, obs):
        mean = self.actor_mean(obs)
        return Independent(Normal(mean, self.actor_logstd.exp().expand(*mean.shape)), 1)


def gae(rewards, values, dones, next_value, next_done, gamma, lam):
    """Generalised advantage estimates over a rollout of T steps × N environments (NumPy arrays):
    δₜ = rₜ + γ (1 − dₜ₊₁) Vₜ₊₁ − Vₜ,  Aₜ = δₜ + γλ (1 − dₜ₊₁) Aₜ₊₁, where dₜ₊₁ marks that the episode
    ended with step t (``dones[t + 1]``, ``next_done`` after the last). Returns (advantages, returns)."""
    steps = len(rewards)
    advantages = np.zeros_like(rewards)
    last = 0.0
    for t in reversed(range(steps)):
        not_done = 1.0 - (next_done if t == steps - 1 else dones[t + 1])
        following = next_value if t == steps - 1 else values[t + 1]
        delta = rewards[t] + gamma * following * not_done - values[t]
        advantages[t] = last = delta + gamma * lam * not_done * last
    return advantages, advantages + values


def ppo_loss(agent, obs, actions, old_log_probs, advantages, returns, old_values, clip_coef, ent_coef, vf_coef,
             normalize_advantages=True):
    """L for one minibatch (the module docstring) and, for the record, (policy loss, value loss,
    entropy, approximate KL (r − 1) − log r, clip fraction) as floats."""
    dist = agent.policy(obs)
    log_ratio = dist.log_prob(actions) - old_log_probs
    ratio = log_ratio.exp()
    if normalize_advantages:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    policy_loss = mg.maximum(-advantages * ratio, -advantages * ratio.clamp(1 - clip_coef, 1 + clip_coef)).mean()
    values = agent.value(obs)
    clipped = old_values + (values - old_values).clamp(-clip_coef, clip_coef)
    value_loss = 0.5 * mg.maximum((values - returns) ** 2, (clipped - returns) ** 2).mean()
    entropy = dist.entropy().mean()
    loss = policy_loss - ent_coef * entropy + vf_coef * value_loss
    with mg.no_grad():
        approx_kl = float(((ratio - 1) - log_ratio).mean())
        clip_fraction = float(((ratio - 1).abs() > clip_coef).to(mg.float32).mean())
    return loss, (float(policy_loss), float(value_loss), float(entropy), approx_kl, clip_fraction)


def act(agent, obs):
    """The rollout's inference for a batch of observations (an array): (sampled actions, their
    log-probabilities, the values) as arrays, without the graph."""
    with mg.no_grad():
        obs = mg.tensor(obs)
        dist = agent.policy(obs)
        action = dist.sample()
        return action.numpy(), dist.log_prob(action).numpy(), agent.value(obs).numpy()


def mean_action(agent, obs):
    """The deterministic policy's actions (the Gaussian's mean) for a batch of observations, as an array."""
    with mg.no_grad():
        return agent.actor_mean(mg.tensor(obs)).numpy()


def value(agent, obs):
    """The critic's values of a batch of observations (an array of any real dtype: doorkey's are
    uint8), as an array."""
    with mg.no_grad():
        return agent.value(mg.tensor(obs.astype(np.float32))).numpy()


class Rollout:
    """The buffers of one iteration (num_steps × num_envs steps of ``envs``) and what carries over
    from one iteration to the next: the next observation, whether the episode ended before it, the
    raw returns of the last 10 finished episodes and the environment steps taken."""

    def __init__(self, envs, settings, seed):
        steps, n, space = settings["num_steps"], envs.num_envs, envs.single_action_space
        self.envs = envs
        self.obs = np.zeros((steps, n) + envs.single_observation_space.shape, np.float32)
        self.actions = np.zeros((steps, n) + space.shape, np.float32 if space.shape else np.int64)
        self.log_probs, self.rewards, self.dones, self.values = (np.zeros((steps, n), np.float32) for _ in range(4))
        self.next_obs, _ = envs.reset(seed=seed)
        self.next_done = np.zeros(n)
        self.recent, self.env_steps = [], 0

    @property
    def mean_return(self):
        """The mean raw return of the last 10 finished episodes (NaN before the first ends)."""
        return float(np.mean(self.recent)) if self.recent else float("nan")

    def collect(self, act_fn):
        """Fill the buffers, ``act_fn(observations)`` giving (actions, log-probabilities, values) at each step."""
        for step in range(len(self.obs)):
            self.obs[step], self.dones[step] = self.next_obs, self.next_done
            self.actions[step], self.log_probs[step], self.values[step] = act_fn(self.obs[step])
            self.next_obs, reward, terminated, truncated, infos = self.envs.step(self.actions[step])
            self.rewards[step], self.next_done = reward, (terminated | truncated).astype(np.float32)
            finished = infos.get("final_info", {})  # the ended episodes' statistics (same-step reset)
            if "episode" in finished:
                self.recent = (self.recent + list(finished["episode"]["r"][finished["_episode"]]))[-10:]
            self.env_steps += self.envs.num_envs

    def flat(self, next_value, gamma, lam):
        """The rollout as one batch: (observations, actions, old log-probabilities, advantages, returns,
        old values), the advantages GAE(λ)'s given the value ``next_value`` of the next observation."""
        advantages, returns = gae(self.rewards, self.values, self.dones, next_value, self.next_done, gamma, lam)
        parts = self.obs, self.actions, self.log_probs, advantages, returns, self.values
        return [a.reshape((-1,) + a.shape[2:]) for a in parts]


def iteration(rollout, act_fn, value_fn, update, permutation, settings):
    """One PPO iteration in any framework: ``rollout.collect(act_fn)``, then ``update_epochs`` passes
    over the flattened rollout in the shuffled order ``permutation(batch)`` gives, ``update`` taking
    each minibatch's arrays (``Rollout.flat``'s) for one optimizer step; ``value_fn(observations)``
    gives the critic's values as an array."""
    rollout.collect(act_fn)
    flat = rollout.flat(value_fn(rollout.next_obs), settings["gamma"], settings["gae_lambda"])
    batch = len(flat[0])
    size = batch // settings["num_minibatches"]
    for _ in range(settings["update_epochs"]):
        order = permutation(batch)
        for start in range(0, batch, size):
            part = order[start:start + size]
            update(*(a[part] for a in flat))


def vector_env(make, num_envs):
    """``num_envs`` environments from ``make`` in gymnasium's SyncVectorEnv; an episode's end resets
    its environment in the same step (the ended episode's statistics in ``final_info``)."""
    import gymnasium as gym
    return gym.vector.SyncVectorEnv([make] * num_envs, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)


def wrapper(env, kind):
    """The wrapper of class ``kind`` in ``env``'s chain."""
    while not isinstance(env, kind):
        env = env.env
    return env


class Normalizers(nn.Module):
    """The running moments of the observation and reward normalisers, kept with the agent so that a
    checkpoint carries them (a policy is evaluated on observations normalised as in training)."""

    def __init__(self, obs_dim):
        super().__init__()
        self.register_buffer("obs_mean", mg.zeros(obs_dim, dtype=mg.float64))
        self.register_buffer("obs_var", mg.ones(obs_dim, dtype=mg.float64))
        self.register_buffer("return_var", mg.tensor(1.0, dtype=mg.float64))
        self.register_buffer("counts", mg.tensor([1e-4, 1e-4], dtype=mg.float64))

    @staticmethod
    def _moments(env):
        import gymnasium as gym
        return (wrapper(env, gym.wrappers.NormalizeObservation).obs_rms,
                wrapper(env, gym.wrappers.NormalizeReward).return_rms)

    def save_from(self, envs):
        """Take the first environment's moments."""
        obs, ret = self._moments(envs.envs[0])
        for buffer, value in ((self.obs_mean, obs.mean), (self.obs_var, obs.var), (self.return_var, ret.var),
                              (self.counts, [obs.count, ret.count])):
            np.copyto(buffer._data, value)

    def load_into(self, envs):
        """Give every environment these moments (a resumed run)."""
        for env in envs.envs:
            obs, ret = self._moments(env)
            obs.mean, obs.var, ret.var = (b.numpy().copy() for b in (self.obs_mean, self.obs_var, self.return_var))
            obs.count, ret.count = self.counts.tolist()

    def observation(self, obs):
        return np.clip((obs - self.obs_mean.numpy()) / np.sqrt(self.obs_var.numpy() + 1e-8), -10, 10)


class MuJoCo:
    """A MuJoCo task for ``train``: the environments wrapped as CleanRL wraps them (episode statistics
    of the raw rewards, actions clipped to the box, observations normalised by running moments and
    clipped to ±10, rewards scaled by the running std of the discounted return and clipped to ±10),
    the Gaussian agent, and the deterministic policy's mean return."""

    def __init__(self, env_id):
        self.env_id = env_id

    def envs(self, num_envs, gamma):
        import gymnasium as gym

        def make():
            env = gym.wrappers.RecordEpisodeStatistics(gym.make(self.env_id))
            env = gym.wrappers.NormalizeObservation(gym.wrappers.ClipAction(env))
            env = gym.wrappers.TransformObservation(env, lambda obs: np.clip(obs, -10, 10), env.observation_space)
            env = gym.wrappers.NormalizeReward(env, gamma=gamma)
            return gym.wrappers.TransformReward(env, lambda reward: float(np.clip(reward, -10, 10)))
        envs = vector_env(make, num_envs)
        self.normalizers = Normalizers(envs.single_observation_space.shape[0])  # for their moments
        return envs

    def agent(self, envs):
        """(the agent, the model a checkpoint holds: the agent and the normalisers' moments)."""
        agent = GaussianAgent(envs.single_observation_space.shape[0], envs.single_action_space.shape[0])
        return agent, nn.ModuleDict({"agent": agent, "normalizers": self.normalizers})

    def resumed(self, envs):
        self.normalizers.load_into(envs)

    def epoch_done(self, envs):
        self.normalizers.save_from(envs)

    def evaluate(self, agent, seed, episodes, split):
        """("average_return", its value, the report) of the deterministic policy (the Gaussian's mean)."""
        return self.score(lambda obs: mean_action(agent, obs), seed, episodes, split)

    def score(self, policy, seed, episodes, split):
        """("average_return", its value, the report) of the deterministic ``policy`` (a (1, obs) float32
        array → a (1, act) array) over ``episodes`` episodes of a fresh environment, observations
        normalised by the training moments (frozen); reset seeds depend on ``seed`` only, odd for the
        test split, even for validation."""
        import gymnasium as gym
        env = gym.wrappers.ClipAction(gym.make(self.env_id))
        returns = []
        for reset_seed in reset_seeds(seed, episodes, split):
            obs, _ = env.reset(seed=reset_seed)
            total, done = 0.0, False
            while not done:
                action = policy(self.normalizers.observation(obs)[None].astype(np.float32))[0]
                obs, reward, terminated, truncated, _ = env.step(action)
                total, done = total + float(reward), terminated or truncated
            returns.append(total)
        env.close()
        returns = np.array(returns)
        return "average_return", float(returns.mean()), (
            f"deterministic policy over {episodes} {split} episodes of {self.env_id}: return {returns.mean():.1f} "
            f"(min {returns.min():.1f}, max {returns.max():.1f})")


def reset_seeds(seed, episodes, split):
    """The evaluation episodes' reset seeds: from ``seed`` only, odd for the test split, even for validation."""
    rng = np.random.default_rng([seed, 1])
    return [int(s) for s in 2 * rng.integers(2 ** 30, size=episodes) + (split == "test")]


def train(task, control, lrs, optimizer="adam", lr=None, backend="cpp", epochs=49, seed=0, quiet=True,
          max_steps=None, save=None, resume=None, timing=False, logdir=None, eval_episodes=10, split="test",
          iterations_per_epoch=10, optimizer_options=None, **settings):
    """PPO on ``control``'s environments (``MuJoCo``, or doorkey's ``MiniGrid``) for ``epochs`` ×
    ``iterations_per_epoch`` iterations of num_envs × num_steps steps, then ``control.evaluate``;
    returns common.result's dict (history: per optimizer step, the mean raw return of the last 10
    episodes). ``settings`` override ``Settings``; ``optimizer_options`` maps an optimizer's name to
    options of its construction besides the lr (the task's tuned ones)."""
    from . import common
    unknown = set(settings) - set(Settings)
    if unknown:
        raise TypeError(f"{task}: unknown setting(s) {sorted(unknown)}; valid: {sorted(Settings)}")
    settings = {**Settings, **settings}
    common.check_split(split)
    batch = settings["num_steps"] * settings["num_envs"]
    # equal minibatches: a last one of a single step would make its advantages' std NaN
    if settings["num_minibatches"] < 1 or batch % settings["num_minibatches"]:
        raise ValueError(f"{task}: num_steps × num_envs = {batch} steps a rollout do not split into "
                         f"num_minibatches = {settings['num_minibatches']} equal minibatches")
    lr = common.tuned_lr(lrs, optimizer) if lr is None else lr
    mg.manual_seed(seed)
    rng = mg.default_generator()
    envs = control.envs(settings["num_envs"], settings["gamma"])
    agent, model = control.agent(envs)
    opt = common.make_optimizer(optimizer, agent, lr, backend, **(optimizer_options or {}).get(optimizer, {}))
    log = common.RunLog(quiet, max_steps, timing, logdir)
    first_epoch = common.load_checkpoint(resume, model, opt, optimizer, log) if resume else 0
    iterations = epochs * iterations_per_epoch
    schedule = mg.optim.lr_scheduler.LambdaLR(opt, lambda i: max(1 - i / max(iterations, 1), 0.0),
                                              last_epoch=first_epoch * iterations_per_epoch - 1)
    if resume:  # the saved moments normalise the first observation already
        control.resumed(envs)
    rollout = Rollout(envs, settings, seed)
    curve = []  # (environment steps, mean return of the last 10 episodes) after each iteration

    def update(*minibatch):
        opt.zero_grad()
        loss, _ = ppo_loss(agent, *(mg.tensor(a) for a in minibatch), settings["clip_coef"], settings["ent_coef"],
                           settings["vf_coef"])
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(agent.parameters(), settings["max_grad_norm"])
        log.step(opt, rollout.mean_return, grad_norm)
    for epoch in range(first_epoch, epochs):
        for _ in log.epoch(range(iterations_per_epoch), epoch, epochs):
            iteration(rollout, lambda obs: act(agent, obs), lambda obs: value(agent, obs), update,
                      rng.permutation, settings)
            schedule.step()
            if rollout.recent:
                curve.append((rollout.env_steps, rollout.mean_return))
            if log.bar is not None:
                log.bar.set_postfix({"return": f"{np.nan_to_num(rollout.mean_return):.2f}"}, refresh=False)
            if log.done:
                break
        control.epoch_done(envs)
        log.print(f"epoch {epoch + 1:3d}  {rollout.env_steps:,} steps  "
                  f"mean return (last 10 episodes) {rollout.mean_return:8.2f}")
        if common.end_epoch(log, save, model, opt, optimizer, epoch, {"train/episode_return": rollout.mean_return}):
            break
    envs.close()
    metric_name, metric, report = control.evaluate(agent, seed, eval_episodes, split)
    first, *rest = report.split("\n")
    report = "\n".join([f"{first}, after {rollout.env_steps:,} environment steps of this run", *rest])
    out = common.result(log, metric_name, metric, model, optimizer, lr, backend, timing, report)
    out["curve"] = curve
    return out


def draw_curve(out, title, path):
    """The training curve (mean return of the last 10 episodes against environment steps), saved to ``path``."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(6, 3.6), dpi=80)
    ax = fig.subplots()
    steps, returns = np.array(out["curve"]).T if out["curve"] else ([], [])
    ax.plot(steps, returns)
    ax.set(xlabel="environment steps", ylabel="mean return of the last 10 episodes", title=title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)


def command_line(task, doc, lrs, epochs):
    """The PPO tasks' command line: the examples' options and the evaluation's episodes."""
    from . import common
    from .arguments import integer
    p = common.parser(task, doc, lrs, epochs)
    p.add_argument("--eval-episodes", type=integer(1), default=10,
                   help="episodes of the deterministic policy scored at the end (default: 10)")
    return p


def mujoco_task(task, env_id, doc, lrs, epochs, needs, optimizer_options=None):
    """A MuJoCo task module's ``run`` (``train`` with its defaults) and ``main``."""
    from . import common

    def run(epochs=epochs, plot=None, **options):
        """Train and evaluate; ``options`` those of ``ppo.train``; with ``plot``, the training curve drawn there."""
        out = train(task, MuJoCo(env_id), lrs, epochs=epochs, **{"optimizer_options": optimizer_options, **options})
        if plot:
            draw_curve(out, f"PPO on {env_id} ({out['optimizer']}, lr {out['lr']:g}): deterministic return "
                       f"{out['metric']:.1f}", plot)
            out["report"] += f"\nplot: {plot}"
        return out

    def main(argv=None):
        p = command_line(task, doc, lrs, epochs)
        p.add_argument("--plot", metavar="PATH.png", help="draw the training curve (matplotlib)")
        return common.main(run, p, argv, needs)
    return run, main
