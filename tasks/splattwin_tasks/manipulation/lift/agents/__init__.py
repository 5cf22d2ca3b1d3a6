"""PPO runner cfgs (rsl-rl-lib) of the task."""
