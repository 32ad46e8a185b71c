"""Shared export code: diffusers-style models -> diffscope's TorchScript model package.

Used by scripts/shapes/export_shapes_model.py, scripts/fixtures/make_test_package.py and
scripts/export/export_diffusers.py, so the project's CI exercises the same attention-capture and tracing path that
real checkpoints go through.
"""
from .attention import CaptureProcessor, install_capture  # noqa: F401
from .unet_wrapper import AnalyzableUNet  # noqa: F401
from .package import trace_checked, write_package  # noqa: F401
