"""One typed Settings object: defaults < config file < environment (GLANCE_…) < flags.

Every option is declared once (``settings``) with its default and help text; the README's
configuration table and the sample config file are generated from those declarations
(``python -m glance.config --markdown`` / ``--sample``). Bad values raise ConfigError.
"""

from glance.config.docs import markdown_table, sample_config
from glance.config.loading import add_arguments, flags_from_args, load_settings, read_config_file
from glance.config.options import Option
from glance.config.settings import OPTIONS, STORE_SETTINGS, Settings, default_data_dir, parse_stores

__all__ = ["OPTIONS", "STORE_SETTINGS", "Option", "Settings", "add_arguments",
           "default_data_dir", "flags_from_args", "load_settings", "markdown_table",
           "parse_stores", "read_config_file", "sample_config"]
