"""High-level entry points: the end-to-end WSSS pipeline."""

from .wsss_pipeline import PipelineSettings, run_pipeline

__all__ = ['PipelineSettings', 'run_pipeline']
