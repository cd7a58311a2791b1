"""GRPO training of the policy on TRL (``segr1 train``).

* :mod:`segr1.train.config` - ``SegR1Config``: TRL's ``GRPOConfig`` + Seg-R1's fields; YAML and
  command-line parsing; the saved resolved config.
* :mod:`segr1.train.data` - dataset specs -> the ``datasets.Dataset`` TRL trains on (prompt,
  image, mask, id, ...).
* :mod:`segr1.train.policy_setup` - LoRA / QLoRA configs and vision-tower freezing.
* :mod:`segr1.train.rollouts` - the JSON-lines rollout log (a thin wrapper around the rewards).
* :mod:`segr1.train.checkpoints` - complete-checkpoint discovery and the final HF export.
* :mod:`segr1.train.main` - :func:`~segr1.train.main.train`, the whole flow in one function.

Importing this package is cheap; TRL / transformers load when a submodule is used.
"""
