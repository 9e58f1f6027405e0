"""The subcommands of ``unsupseg``, one module each: ``add(commands)`` declares its
arguments, ``run(args)`` calls the library and prints. They share :mod:`.common`;
:mod:`napari_unsupseg.cli` assembles them and holds ``main()``."""
