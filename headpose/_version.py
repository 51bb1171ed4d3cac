__version__ = "0.2.0"
#: The distribution name on the package index; the import package is ``headpose``.
DIST_NAME = "headpose-hmtl"
