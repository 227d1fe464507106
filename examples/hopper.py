"""Locomotion: PPO (examples/ppo.py, CleanRL's settings) on MuJoCo's Hopper-v5, a one-legged robot
that must learn to hop forward without falling; the target is a mean return ≥ 2,000 of the
deterministic policy over 10 episodes after 1M environment steps.

    python examples/hopper.py [--optimizer adam] [--epochs 49] [--save hopper.safetensors]
    minigrad train hopper [options]        (needs: pip install "minigrad[rl]")
"""
from minigrad.examples import ppo

NEEDS = ("gymnasium", "mujoco")
LR = {"adam": 3e-4}
OPTIMIZER_OPTIONS = {}  # beyond the lr, by optimizer
EPOCHS = 49  # of 10 iterations of 2,048 steps: 1,003,520 steps
ENV_ID = "Hopper-v5"
run, main = ppo.mujoco_task("hopper", ENV_ID, __doc__, LR, EPOCHS, NEEDS, OPTIMIZER_OPTIONS)

if __name__ == "__main__":
    main()
