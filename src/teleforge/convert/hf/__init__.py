"""Hugging Face: the ``datasets`` folder export and the Hub push (with a dataset card)."""

from teleforge.convert.hf.export import HfExport, export_hf, hf_features, load_hf
from teleforge.convert.hf.hub import PushResult, push_export, write_card

__all__ = ["HfExport", "PushResult", "export_hf", "hf_features", "load_hf", "push_export", "write_card"]
