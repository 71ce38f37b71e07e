"""The bundled VLA: train, fine-tune, evaluate and hand off (torch only inside, never at import).

Entry points (see docs/design.md §8):

* ``checkpoint.load_policy(path="bundled", head=None)`` -> a ``policy.Policy``;
* ``train.TrainConfig`` / ``train.train(cfg)`` -> ``TrainResult`` (fine-tune on ``DATASET[:VIEW]``);
* ``train.PretrainConfig`` / ``train.pretrain(cfg)`` -> rebuilds the bundled base;
* ``rollout.quick_eval`` -> a minimal closed-loop success check (``eval.py`` is the full one).

``PolicyInfo.extra`` of a loaded checkpoint carries ``render_size`` (camera size of its training
data), ``tasks`` (tasks it was trained on), ``trained_on``, ``params``, ``flow_steps`` and ``embodiment``.
"""
