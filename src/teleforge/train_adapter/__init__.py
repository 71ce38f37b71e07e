"""The bundled VLA: train, fine-tune and evaluate (torch only inside, never at import).

Entry points (see docs/design.md §8):

* ``checkpoint.load_policy(path="bundled", head=None, flow_steps=None, token_decode=None)`` -> a ``policy.Policy``
  (``token_decode``: local (default) | argmax | expected, ``model.decode_tokens``);
* ``train.TrainConfig`` / ``train.train(cfg)`` -> ``TrainResult`` (fine-tune on ``DATASET[:VIEW]``);
* ``TrainConfig(freeze_vision=True)`` (``teleforge train --fast``): vision tokens cached once per
  (frame, instruction) by ``feature_cache``; ``freeze_trunk_layers=N`` caches the lower trunk too;
  ``head_only=True`` trains the named head's own layers alone; ``token_sigma`` smooths the tokens
  head's targets over neighbouring bins;
* ``pretrain.PretrainConfig`` / ``pretrain.pretrain(cfg)`` -> rebuilds the bundled base;
* ``variant``: the held-out fine-tune target ``carry_left`` (scene, expert, demos, closed-loop eval);
* ``eval.evaluate(policy, EvalConfig(...))`` -> ``EvalResult`` (closed loop in the sim, held-out seeds);
* ``closed_loop.run_episode`` -> the one closed-loop runner (success rule, observation path) under it.

Long calls report through ``teleforge.progress.Progress`` and never draw. Handing data to
other trainers is ``teleforge.workflows.handoff``.

``PolicyInfo.extra`` of a loaded checkpoint carries ``render_size`` (camera size of its training
data), ``tasks`` (tasks it was trained on), ``trained_on``, ``params``, ``flow_steps``, ``token_decode`` and ``embodiment``.
"""
