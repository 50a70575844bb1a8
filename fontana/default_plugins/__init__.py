"""Built-in plugins, registered through the ``fontana`` entry points like any other."""
