"""The subcommands of ``unsupseg``, one module each: ``NAME``, the texts ``HELP``,
``DESCRIPTION`` and ``EPILOG``, ``add_arguments(parser)`` and ``run(args)``, which calls
the library and prints. They share :mod:`.common`; :mod:`napari_unsupseg.cli` builds
the parser from them and holds ``main()``."""
