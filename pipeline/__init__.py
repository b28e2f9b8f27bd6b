"""The Beam job: composites, options, the ``run()``/``build()`` entry points and the
``posebeam`` command line. The only folder that imports Apache Beam."""

if __name__ != "posebeam.pipeline":  # imported as `pipeline` from the repo root: a second copy of each module
    raise ImportError(f"import this folder as posebeam.pipeline, not {__name__}")
