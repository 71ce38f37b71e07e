"""What composes the packages below into one job (layer 5): each module is a library call the CLI wraps.

* ``collect``: a collection session as a whole (robot, device, safety guard, recorder, window);
* ``demo``: the whole story on the embedded sim (collect, curate, export, fine-tune, evaluate);
* ``experiment``: the curation experiment (raw vs curated fine-tune on the same budget);
* ``handoff``: a dataset or view handed to another trainer (OpenVLA, openpi, LeRobot).

Nothing below imports this package; it reports progress through ``teleforge.progress`` and never draws.
"""
