"""``python -m nativejobs`` is the ``nativejobs`` command."""

from nativejobs.cli import main

main()
