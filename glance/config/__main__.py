"""``python -m glance.config --markdown | --sample``."""

from glance.config.docs import main

raise SystemExit(main())
