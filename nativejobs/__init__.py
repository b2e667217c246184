"""nativejobs: native vs machine-translated instruction-tuning studies, from laptop to cluster."""

__version__ = "0.1.0"
