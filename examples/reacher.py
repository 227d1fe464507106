"""Manipulation: PPO (examples/ppo.py, CleanRL's settings) on MuJoCo's Reacher-v5, a two-joint arm
that must bring its fingertip to a random target with little effort; the target is a mean return
≥ −5 of the deterministic policy over 10 episodes after 1M environment steps.

    python examples/reacher.py [--optimizer adam] [--epochs 49] [--save reacher.safetensors]
    minigrad train reacher [options]        (needs: pip install "minigrad[rl]")
"""
from minigrad.examples import ppo

NEEDS = ("gymnasium", "mujoco")
LR = {"adam": 3e-4}
OPTIMIZER_OPTIONS = {"adam": {"eps": 1e-5}}  # CleanRL's: over seeds 0-2, -4.7 / -7.6 / -4.5 (1e-8: -5.7 / -9.2)
EPOCHS = 49  # of 10 iterations of 2,048 steps: 1,003,520 steps
ENV_ID = "Reacher-v5"
run, main = ppo.mujoco_task("reacher", ENV_ID, __doc__, LR, EPOCHS, NEEDS, OPTIMIZER_OPTIONS)

if __name__ == "__main__":
    main()
