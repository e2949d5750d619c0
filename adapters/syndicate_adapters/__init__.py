"""Built-in channel adapters for syndicate.

They register through the `syndicate.adapters` entry-point group exactly like a third
party's adapters would; the core never imports this package. They import only syndicate's
extension API (`syndicate.adapter`, `syndicate.adapterkit`, `syndicate.errors`), as a third
party's would: an import-linter contract says so. Private modules (`_robot`, `_html`,
`_fonts`) hold what several built-in channels share.
"""

__all__: list[str] = []
