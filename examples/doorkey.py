"""Navigation: PPO (examples/ppo.py) with a small CNN over MiniGrid's partially observed 7×7 view on
MiniGrid-DoorKey-5x5-v0: the agent must pick up the key, open the door and reach the goal. The
target is a success rate ≥ 95% of the greedy policy over 100 episodes after ≤ 300k frames.
``--size 8`` trains on the 8×8 grid (MiniGrid-DoorKey-8x8-v0), which needs more frames: with
``--epochs 100`` (2,048,000 frames) its greedy policy succeeds in 97% of 100 episodes (README).

    python examples/doorkey.py [--optimizer adam] [--epochs 14] [--size 5] [--plot doorkey.png]
    minigrad train doorkey [options]        (needs: pip install "minigrad[rl]")
"""
import numpy as np

import minigrad as mg
import minigrad.nn as nn
from minigrad.distributions import Categorical
from minigrad.examples import common, ppo

NEEDS = ("gymnasium", "minigrid")
LR = {"adam": 1e-3}
EPOCHS = 14  # of 10 iterations of 16 environments × 128 steps: 286,720 frames
SIZES = (5, 8)  # the grid's side: MiniGrid-DoorKey-{size}x{size}-v0
# the torch-rl starter files' settings for MiniGrid (16 environments, 128 steps each, 4 epochs of 256-step minibatches)
SETTINGS = dict(num_envs=16, num_steps=128, num_minibatches=8, update_epochs=4, ent_coef=0.01)


class ConvAgent(nn.Module):
    """A CNN over the 7×7 view's (object, colour, state) channels, 2×2 convolutions of 16, 32 and 64
    channels with a 2×2 max-pool after the first (to a 64-vector), then a 64-unit tanh head for the
    policy's logits over the actions and one for the value."""

    def __init__(self, n_actions):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 16, 2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 2), nn.ReLU(),
                                      nn.Conv2d(32, 64, 2), nn.ReLU(), nn.Flatten())
        self.actor = nn.Sequential(ppo.layer(64, 64), nn.Tanh(), ppo.layer(64, n_actions, std=0.01))
        self.critic = nn.Sequential(ppo.layer(64, 64), nn.Tanh(), ppo.layer(64, 1, std=1.0))

    def _features(self, obs):
        return self.features(obs.permute(0, 3, 1, 2))  # (N, 7, 7, 3) → channels first

    def value(self, obs):
        return self.critic(self._features(obs)).squeeze(-1)

    def policy(self, obs):
        return Categorical(logits=self.actor(self._features(obs)))


class MiniGrid:
    """A MiniGrid task for ``ppo.train``: the image observation (``ImgObsWrapper``), the CNN agent, and
    the greedy policy's success rate (and, with ``plot``, a PNG of one greedy episode's frames)."""

    def __init__(self, env_id, plot=None):
        self.env_id, self.plot = env_id, plot

    def make(self, **options):
        import gymnasium as gym
        import minigrid  # noqa: F401  (registers the MiniGrid environments)
        from minigrid.wrappers import ImgObsWrapper
        return ImgObsWrapper(gym.make(self.env_id, **options))

    def envs(self, num_envs, gamma):
        import gymnasium as gym
        return ppo.vector_env(lambda: gym.wrappers.RecordEpisodeStatistics(self.make()), num_envs)

    def agent(self, envs):
        agent = ConvAgent(envs.single_action_space.n)
        return agent, agent

    def resumed(self, envs):
        pass

    def epoch_done(self, envs):
        pass

    def episode(self, agent, env, reset_seed):
        """One greedy episode: its return and frames (``env.render()``, an RGB array per step, when it renders)."""
        obs, _ = env.reset(seed=reset_seed)
        total, done, frames = 0.0, False, []
        while not done:
            if env.render_mode == "rgb_array":
                frames.append(env.render())
            with mg.no_grad():
                action = int(agent.policy(mg.tensor(obs[None].astype(np.float32))).logits.numpy()[0].argmax())
            obs, reward, terminated, truncated, _ = env.step(action)
            total, done = total + float(reward), terminated or truncated
        if env.render_mode == "rgb_array":
            frames.append(env.render())
        return total, frames

    def evaluate(self, agent, seed, episodes, split):
        """("success_rate", its value, the report) of the greedy policy over ``episodes`` episodes
        (a success: the goal reached before the time limit, a positive return)."""
        env = self.make()
        returns = np.array([self.episode(agent, env, s)[0] for s in ppo.reset_seeds(seed, episodes, split)])
        env.close()
        success = float(np.mean(returns > 0))
        report = (f"greedy policy over {episodes} {split} episodes of {self.env_id}: success {success:.0%}, "
                  f"mean return {returns.mean():.3f}")
        if self.plot:
            self.draw(agent, ppo.reset_seeds(seed, 1, split)[0])
            report += f"\nplot: {self.plot}"
        return "success_rate", success, report

    def draw(self, agent, reset_seed):
        """The frames of one greedy episode in a row, saved to ``self.plot``."""
        from matplotlib.figure import Figure
        env = self.make(render_mode="rgb_array")
        total, frames = self.episode(agent, env, reset_seed)
        env.close()
        fig = Figure(figsize=(1.6 * len(frames), 1.9), dpi=80)
        for k, (ax, frame) in enumerate(zip(fig.subplots(1, len(frames), squeeze=False)[0], frames)):
            ax.imshow(frame)
            ax.set(xticks=[], yticks=[], title=f"step {k}")
        fig.suptitle(f"{self.env_id}: one greedy episode, return {total:.3f} "
                     f"({'solved' if total > 0 else 'not solved'})")
        fig.tight_layout()
        fig.savefig(self.plot)


def run(epochs=None, plot=None, size=5, **options):
    """Train and evaluate on the ``size``×``size`` grid; ``options`` those of ``ppo.train`` (MiniGrid's
    settings unless given); with ``plot``, one greedy episode's frames drawn there."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, got {size!r}")
    return ppo.train("doorkey", MiniGrid(f"MiniGrid-DoorKey-{size}x{size}-v0", plot), LR,
                     epochs=EPOCHS if epochs is None else epochs, **{**SETTINGS, "eval_episodes": 100, **options})


def main(argv=None):
    p = ppo.command_line("doorkey", __doc__, LR, EPOCHS)
    p.set_defaults(eval_episodes=100)
    p.add_argument("--size", type=int, choices=SIZES, default=5, help="the grid's side (default: 5)")
    p.add_argument("--plot", metavar="PATH.png", help="draw one greedy episode's frames (matplotlib)")
    return common.main(run, p, argv, NEEDS)


if __name__ == "__main__":
    main()
